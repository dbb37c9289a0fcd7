/* Include once in a test program that makes impossible requests (SIZE_MAX
 * and the like): under AddressSanitizer or ThreadSanitizer those must
 * return NULL as they do in the allocator under test, not abort. */
#ifndef TEST_SAN_OPTIONS_H
#define TEST_SAN_OPTIONS_H

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

#endif
