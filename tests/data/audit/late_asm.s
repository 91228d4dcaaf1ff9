# A local function with no STT_FILE of its own, linked after crtend (tests/test_audit_verdicts.py).
	.text
	.type	late_local, @function
late_local:
	push	%rbp
	mov	%rsp, %rbp
	call	late_helper
	mov	%rdi, %rbp
	pop	%rbp
	ret
	.size	late_local, .-late_local
	.globl	late_helper
	.type	late_helper, @function
late_helper:
	ret
	.size	late_helper, .-late_helper
	.globl	late_entry
	.type	late_entry, @function
late_entry:
	jmp	late_local
	.size	late_entry, .-late_entry
	.section	.note.GNU-stack,"",@progbits
