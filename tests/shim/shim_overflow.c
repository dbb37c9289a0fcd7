/* Writes one byte past a 24-byte block, then frees it: harmless slack for
 * a plain allocator, an abort with a report under POOLMALLOC=debug. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *volatile p = malloc(24);
    fprintf(stderr, "target=%p size=24\n", (void *)p);
    p[24] = 'x';
    free(p);
    printf("survived\n");
    return 0;
}
