#include "textflag.h"

// Frame size 16: the Go assembler inserts the frame-pointer prologue (sub, mov [rsp+8], rbp, lea rbp);
// the body then uses BP as a scratch register.
TEXT ·clobberFramed(SB), $16-16
	MOVQ x+0(FP), AX
	MOVQ AX, BP
	ADDQ BP, AX
	MOVQ AX, ret+8(FP)
	RET

// Frame size 0 (no inserted prologue): an explicit push rbp; mov rbp, rsp, a call, then BP overwritten.
TEXT ·clobberPushed(SB), NOSPLIT, $0-16
	PUSHQ BP
	MOVQ SP, BP
	CALL ·helper(SB)
	MOVQ x+0(FP), BP
	MOVQ BP, AX
	POPQ BP
	MOVQ AX, ret+8(FP)
	RET

TEXT ·helper(SB), NOSPLIT, $0-0
	RET
