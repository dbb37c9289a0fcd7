/* The live page: GET / (poold's own allocator) and /process/PID (an exported
 * process), the same view of either -- headline figures, where the bytes
 * go, size classes, the arena map, a timeline kept in the browser. The HTML
 * is rendered here (the headline figures are a plain table, so the page
 * says something without JavaScript); app.js and app.css are embedded from
 * daemon/http/page/ at build time and served as their own routes, so the
 * Content-Security-Policy needs no inline script or style. JSON for the
 * script: /stats and /stats/map (map_json.h) for poold, /process/PID/stats
 * and /process/PID/map for a process. */
#ifndef POOLD_PAGE_H
#define POOLD_PAGE_H

#include "http/routes.h"

void page_live(const routes_config_t *cfg, const request_t *req, reply_t *rep);
void page_asset(const routes_config_t *cfg, const request_t *req, reply_t *rep);
void page_map(const routes_config_t *cfg, const request_t *req, reply_t *rep);
/* /process/PID, /process/PID/stats, /process/PID/map */
void page_process(const routes_config_t *cfg, const request_t *req, reply_t *rep);

#endif
