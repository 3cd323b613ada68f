#ifndef LEASEFENCE_RELOAD_H
#define LEASEFENCE_RELOAD_H
/* Reloads of serve_srv's --config file and certificate when their files change. */

/** Records what the --config, certificate and key files are now: reload_poll acts on a later change. */
void reload_init(void);

/** Reloads the --config file and the certificate and key whose files changed (a ConfigMap or Secret volume's
 * symlink swap included); a broken file keeps the previous one.  Logs and counts each outcome. */
void reload_poll(void);

#endif
