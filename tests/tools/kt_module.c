/* Khiên — tests: a shared module for the unit test of kh_module_sym()
 * (tests/unit/platform/posix.c), built beside the test program. */
__attribute__((visibility("default"))) int kt_module_answer(void);

int kt_module_answer(void) { return 42; }
