# Hand-written x86-64 functions, one per frame-pointer verdict the audit must get right (issue 11).
# GNU as syntax; assembled and linked by tests/test_audit_verdicts.py.
	.text

# (b) OpenSSL perlasm shape: push callee-saved registers, then move the CFA to rbp. CFA = rbp+32 and rbp
# sits at CFA-16, so [rbp] is r12, not the caller's rbp: a frame-pointer walk reads garbage.
	.globl	cfa_rbp_not_frame
	.type	cfa_rbp_not_frame, @function
cfa_rbp_not_frame:
	.cfi_startproc
	push	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbp, -16
	push	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r12, -24
	push	%r13
	.cfi_adjust_cfa_offset 8
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	call	leaf_with_syscall
	pop	%r13
	pop	%r12
	pop	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	cfa_rbp_not_frame, .-cfa_rbp_not_frame

# The real frame record for contrast: CFA = rbp+16, rbp at CFA-16.
	.globl	true_frame
	.type	true_frame, @function
true_frame:
	.cfi_startproc
	push	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	call	leaf_with_syscall
	pop	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	true_frame, .-true_frame

# (c) its only "call" is syscall: a leaf.
	.globl	leaf_with_syscall
	.type	leaf_with_syscall, @function
leaf_with_syscall:
	.cfi_startproc
	mov	$39, %eax
	syscall
	ret
	.cfi_endproc
	.size	leaf_with_syscall, .-leaf_with_syscall

# (e) vpaes_encrypt shape: the CFA never moves, yet it calls its core.
	.globl	calls_without_frame
	.type	calls_without_frame, @function
calls_without_frame:
	.cfi_startproc
	movdqu	(%rdi), %xmm0
	call	leaf_with_syscall
	movdqu	%xmm0, (%rsi)
	ret
	.cfi_endproc
	.size	calls_without_frame, .-calls_without_frame

# (a) without CFI, decoded: the frame-pointer prologue, then rbp overwritten (Go assembly does this).
	.globl	prologue_then_clobber
	.type	prologue_then_clobber, @function
prologue_then_clobber:
	push	%rbp
	mov	%rsp, %rbp
	call	leaf_with_syscall
	mov	%rdi, %rbp
	add	(%rbp), %rax
	pop	%rbp
	ret
	.size	prologue_then_clobber, .-prologue_then_clobber

# (f) over 16 KiB without CFI: a frame-pointer prologue, a call, and a big body. Verdict FP, not UNKNOWN.
	.globl	big_without_cfi
	.type	big_without_cfi, @function
big_without_cfi:
	push	%rbp
	mov	%rsp, %rbp
	call	leaf_with_syscall
	.rept	6000
	add	$1, %rax
	.endr
	pop	%rbp
	ret
	.size	big_without_cfi, .-big_without_cfi

# (g) no .size, no CFI (musl's stubs): bounded by the next symbol; its raw syscall must be found.
	.globl	unsized_stub
	.type	unsized_stub, @function
unsized_stub:
	mov	$60, %eax
	syscall
	ret

	.globl	after_stub
	.type	after_stub, @function
after_stub:
	xor	%eax, %eax
	ret
	.size	after_stub, .-after_stub
	.section	.note.GNU-stack,"",@progbits
