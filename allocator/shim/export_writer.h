/* Publishing statistics in shared memory (see export_writer.c). */
#ifndef POOL_EXPORT_WRITER_H
#define POOL_EXPORT_WRITER_H

void export_start(void);   /* reads POOLMALLOC_EXPORT; starts the publisher thread */
void export_stop(void);    /* at exit: removes the segment */
void export_suspend(void); /* before exec: removes the segment */
void export_resume(void);  /* the exec failed: publish again */

#endif
