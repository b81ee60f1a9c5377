/* The compiled steering program, linked into icperf as read-only data (see
 * src/transport_xdp_prog.c). XDP_STEER_OBJ is its path, given by the Makefile. */
	.section .rodata
	.balign 8
	.globl icperf_xdp_steer_obj
icperf_xdp_steer_obj:
	.incbin XDP_STEER_OBJ
	.globl icperf_xdp_steer_obj_end
icperf_xdp_steer_obj_end:
	.section .note.GNU-stack, "", @progbits
