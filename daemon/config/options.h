/* poold's settings, and the table of flags that sets them. Every setting is
 * a long flag (--web.listen-address=...) and, with the same name, a key of
 * the config file. Defaults are written in the table as text and go through
 * the same parsers as user input. */
#ifndef POOLD_OPTIONS_H
#define POOLD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_LISTEN 16
#define DEFAULT_CONFIG_FILE "/etc/poold/poold.conf"

typedef struct options {
    /* web */
    char    *listen[MAX_LISTEN];
    unsigned n_listen;
    char    *telemetry_path;
    bool     systemd_socket;
    unsigned max_requests;           /* in flight; 0 = no limit */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* remote addresses only; 0 = no limit */
    int64_t  read_header_timeout_ms;
    int64_t  idle_timeout_ms;
    int64_t  write_timeout_ms;
    int64_t  connection_timeout_ms;  /* deprecated: idle and write, where not given */
    char    *web_config_file;        /* "" = none */
    /* logging */
    int      log_level;              /* enum log_level */
    int      log_format;             /* enum log_format */
    /* workload */
    char    *workload;
    unsigned workload_threads;
    uint64_t workload_rate;          /* operations per second, 0 = unlimited */
    uint64_t workload_max_bytes;
    char    *workload_trace;         /* replay: "" = none */
    double   workload_speed;         /* replay: 0 = as fast as the rate allows */
    /* the process collector */
    bool     collector_processes;
    char    *collector_dir;
    unsigned collector_max;
    /* allocator */
    int64_t  purge_delay_ms;         /* -1 = never */
    /* testing aids */
    bool     debug_wedge_on_sigusr2;
    /* where the rest came from */
    char    *config_file;

    /* bookkeeping: which source last set the listen list, and which flags
     * were given explicitly (bit i = flag_table[i]) */
    int      listen_source;
    uint64_t explicit_set;
} options_t;

enum opt_source { SRC_DEFAULT = 0, SRC_FILE = 1, SRC_CLI = 2 };

/* What a flag's value is; options.c has one row per kind (read, write back, expect). */
enum flag_kind {
    FK_STRING, FK_LIST, FK_BOOL, FK_UINT, FK_U64, FK_BYTES, FK_DURATION, FK_PURGE_DELAY,
    FK_LOG_LEVEL, FK_LOG_FORMAT, FK_WORKLOAD, FK_PATH, FK_ACTION, FK_FACTOR
};

typedef struct flag {
    const char    *name;      /* without the leading -- */
    enum flag_kind kind;
    size_t         offset;    /* into options_t */
    uint64_t       min, max;  /* FK_UINT, FK_U64, FK_BYTES, FK_DURATION (ms), FK_FACTOR */
    const char    *defval;    /* NULL: no default */
    const char    *help;
    bool           cli_only;  /* not allowed in the config file */
    bool           reloadable;/* a SIGHUP applies a change; others need a restart */
} flag_t;

extern const flag_t flag_table[];
extern const size_t flag_count;

const flag_t *flag_find(const char *name, size_t len);
size_t flag_index(const flag_t *f);

void options_init(options_t *o);       /* the defaults */
void options_free(options_t *o);

/* Parses value for f into o. Returns 0, or -1 with a reason in err
 * ("invalid value \"x\": expected ..."). */
int  opt_set(options_t *o, const flag_t *f, const char *value, enum opt_source src,
             char *err, size_t errlen);
bool opt_is_explicit(const options_t *o, const char *name);
/* The value of f in o as text (for --help and logging), into out. */
void opt_format(const options_t *o, const flag_t *f, char *out, size_t len);
/* True when the settings f controls differ between a and b. */
bool opt_differs(const options_t *a, const options_t *b, const flag_t *f);

#endif
