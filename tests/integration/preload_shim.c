/*
 * An LD_PRELOAD shim for integration tests: faults the kernel or libc would
 * cause only on other machines, switched on by environment variables.
 *
 *   LEASEFENCE_TEST_NO_IPV6=1              socket(AF_INET6, ...) fails with EAFNOSUPPORT, as on a
 *                                          kernel booted with ipv6.disable=1
 *   LEASEFENCE_TEST_FAIL_PTHREAD_CREATE=N  the Nth pthread_create of the process fails with EAGAIN
 *   LEASEFENCE_TEST_FORK_UNSAFE=1          a child of fork() that calls setenv, unsetenv, putenv,
 *                                          execvp or fprintf (none async-signal-safe: after fork in a
 *                                          threaded process only those are allowed) says so on stderr
 *                                          and exits 97
 *
 * Built by the test scripts that use it: cc -shared -fPIC ... -ldl.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile int in_child;

static int env_on(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && strcmp(v, "1") == 0;
}

static void on_fork_child(void)
{
    in_child = 1;
}

__attribute__((constructor)) static void shim_init(void)
{
    if (env_on("LEASEFENCE_TEST_FORK_UNSAFE"))
        pthread_atfork(NULL, NULL, on_fork_child);
}

static void *next(const char *sym)
{
    void *p = dlsym(RTLD_NEXT, sym);
    if (p == NULL) {
        static const char msg[] = "preload_shim: a libc symbol is missing\n";
        (void)write(2, msg, sizeof(msg) - 1);
        _exit(98);
    }
    return p;
}

/* In a child of fork(): report the call WHAT and exit. */
static void unsafe(const char *what)
{
    static const char pre[] = "preload_shim: ", post[] = " called after fork in a threaded process\n";
    if (!in_child)
        return;
    (void)write(2, pre, sizeof(pre) - 1);
    (void)write(2, what, strlen(what));
    (void)write(2, post, sizeof(post) - 1);
    _exit(97);
}

int socket(int domain, int type, int protocol)
{
    int (*real)(int, int, int) = (int (*)(int, int, int))next("socket");
    if (domain == AF_INET6 && env_on("LEASEFENCE_TEST_NO_IPV6")) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return real(domain, type, protocol);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static int calls;
    typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    create_fn real = (create_fn)next("pthread_create");
    const char *v = getenv("LEASEFENCE_TEST_FAIL_PTHREAD_CREATE");
    int n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    if (v != NULL && strtol(v, NULL, 10) == n)
        return EAGAIN;
    return real(t, attr, fn, arg);
}

int setenv(const char *name, const char *value, int overwrite)
{
    unsafe("setenv");
    return ((int (*)(const char *, const char *, int))next("setenv"))(name, value, overwrite);
}

int unsetenv(const char *name)
{
    unsafe("unsetenv");
    return ((int (*)(const char *))next("unsetenv"))(name);
}

int putenv(char *s)
{
    unsafe("putenv");
    return ((int (*)(char *))next("putenv"))(s);
}

int execvp(const char *file, char *const argv[])
{
    unsafe("execvp");
    return ((int (*)(const char *, char *const[]))next("execvp"))(file, argv);
}

int fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    unsafe("fprintf");
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    va_list ap;
    (void)flag;
    unsafe("fprintf");
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}
