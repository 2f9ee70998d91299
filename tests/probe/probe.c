/*
 * A static program the end-to-end tests run inside containers, to ask the container what it
 * can see and do (contrib/test-env.sh builds it, 64- and 32-bit). Each subcommand prints one
 * line of `key=value` words:
 *
 *   probe fds             the descriptors this process holds
 *   probe cwd             the working directory, and whether it lies beneath the root
 *   probe syscalls [PID]  system calls a container should not be able to make, each with its
 *                         result (ok or the errno's name); ptrace is tried on PID
 *   probe scan SECS MARK  for SECS seconds, every other process: its environment searched for
 *                         MARK, its executable opened, PTRACE_SEIZE, pidfd_getfd; counts of
 *                         what succeeded against skiff's own processes
 *   probe filecap         (as root) whether a user gains a file's inheritable capability
 *   probe exe SECS WORD   waits for a process whose second argument is WORD, holds its
 *                         executable (O_PATH) until it exits, then tries to open that for
 *                         writing: prints whether it could
 *   probe udpecho PORT [4]  answers every UDP datagram on PORT (IPv6 and IPv4; IPv4 alone
 *                         with 4) with itself, after printing ready=1; runs until killed
 *   probe dnstime NAME N [SERVER]  asks SERVER (default: resolv.conf's first name server)
 *                         for NAME's A record N times, one after another: how many were
 *                         answered with an address, and the round trips' median, 99th
 *                         percentile and maximum in microseconds
 *   probe dnstcp NAME     asks the resolver at 127.0.0.11 for NAME's A record once over TCP:
 *                         whether it answered, and the first address
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *errname(int e) {
    switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EROFS: return "EROFS";
    case ESRCH: return "ESRCH";
    case EBUSY: return "EBUSY";
    case ENOTDIR: return "ENOTDIR";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENODEV: return "ENODEV";
    case ETXTBSY: return "ETXTBSY";
    case ENOEXEC: return "ENOEXEC";
    case EEXIST: return "EEXIST";
    case ENOMEM: return "ENOMEM";
    case E2BIG: return "E2BIG";
    case EIO: return "EIO";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}

static void report(const char *name, long r) {
    printf("%s=%s ", name, r < 0 ? errname(errno) : "ok");
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (!d) {
        perror("opendir");
        return 1;
    }
    printf("fds=");
    int first = 1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        printf(first ? "%s" : ",%s", e->d_name);
        first = 0;
    }
    printf("\n");
    closedir(d);
    return 0;
}

/* Climbs from the working directory with `..` until it stops: beneath the root, it stops at
 * the root itself (same device and inode as "/"). */
static int cwd(void) {
    char buf[4096];
    const char *path = getcwd(buf, sizeof buf) ? buf : "unreachable";
    struct stat root, here, up;
    if (stat("/", &root) < 0) {
        perror("stat /");
        return 1;
    }
    int fd = open(".", O_PATH | O_DIRECTORY);
    int inside = 0;
    for (int i = 0; fd >= 0 && i < 256; i++) {
        if (fstat(fd, &here) < 0)
            break;
        if (here.st_dev == root.st_dev && here.st_ino == root.st_ino) {
            inside = 1;
            break;
        }
        int parent = openat(fd, "..", O_PATH | O_DIRECTORY);
        if (parent < 0 || fstat(parent, &up) < 0)
            break;
        close(fd);
        fd = parent;
        if (up.st_dev == here.st_dev && up.st_ino == here.st_ino)
            break; /* the real root: `..` goes no higher */
    }
    printf("cwd=%s inside=%s\n", path, inside ? "yes" : "no");
    return 0;
}

static int syscalls(int target) {
    long r;
    pid_t child;
    int status;

    /* unshare(CLONE_NEWUSER) in a child, so that this process stays as it is. */
    child = fork();
    if (child == 0)
        _exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
    waitpid(child, &status, 0);
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
    report("unshare", errno ? -1 : 0);

    mkdir("/tmp/probe-mnt", 0700);
    r = mount("none", "/tmp/probe-mnt", "tmpfs", 0, NULL);
    report("mount", r);
    r = umount2(r == 0 ? "/tmp/probe-mnt" : "/proc", MNT_DETACH);
    report("umount", r);
    r = syscall(SYS_pivot_root, "/tmp", "/tmp/probe-mnt");
    report("pivot_root", r);
    r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    report("keyctl", r);
    r = syscall(SYS_add_key, "user", "probe", "x", 1, -3);
    report("add_key", r);
    char attr[128] = {0};
    r = syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr);
    report("bpf", r);
    struct perf_event_attr pe = {0};
    pe.size = sizeof pe;
    pe.type = PERF_TYPE_SOFTWARE;
    pe.config = PERF_COUNT_SW_CPU_CLOCK;
    pe.exclude_kernel = 1;
    r = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
    report("perf_event_open", r);
    r = syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */);
    report("userfaultfd", r);
    char handle[256] = {0};
    ((unsigned int *)handle)[0] = 8;
    r = syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY);
    report("open_by_handle_at", r);
    r = syscall(SYS_init_module, NULL, 0, "");
    report("init_module", r);
#ifdef SYS_kexec_load
    r = syscall(SYS_kexec_load, 0, 0, NULL, 0);
    report("kexec_load", r);
#endif
    /* Another process: `target` (a pid outside, which the container should not even see). */
    r = ptrace(PTRACE_ATTACH, target, NULL, NULL);
    if (r == 0)
        ptrace(PTRACE_DETACH, target, NULL, NULL);
    report("ptrace", r);
    int ns = open("/proc/1/ns/net", O_RDONLY);
    r = ns < 0 ? -1 : setns(ns, CLONE_NEWNET);
    report("setns", r);
    int kcore = open("/proc/kcore", O_RDONLY);
    char byte;
    r = kcore < 0 ? -1 : read(kcore, &byte, 1);
    if (r == 0) { /* masked: an empty file */
        errno = EPERM;
        r = -1;
    }
    report("kcore", r);
    /* Kernel files: /proc/sys and /sys are read-only (a kernel without sysrq has no trigger;
     * the domain name is then the file of /proc/sys to try). */
    int sysrq = open("/proc/sysrq-trigger", O_WRONLY);
    if (sysrq < 0 && errno == ENOENT)
        sysrq = open("/proc/sys/kernel/domainname", O_WRONLY);
    report("sysrq", sysrq);
    int sys = open("/sys/kernel/profiling", O_WRONLY);
    if (sys < 0 && errno == ENOENT)
        sys = open("/sys/kernel/mm/transparent_hugepage/enabled", O_WRONLY);
    report("sys", sys);
    r = syscall(SYS_io_uring_setup, 1, attr);
    report("io_uring_setup", r);
    r = socket(AF_VSOCK, SOCK_STREAM, 0);
    report("vsock", r);
    r = syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */);
    report("personality", r);
    printf("\n");
    return 0;
}

/* CVE-2022-24769: a file that carries CAP_DAC_OVERRIDE as inheritable (and effective), run by
 * an ordinary user, gains it only if the process's inheritable set holds it. As root in the
 * container: a root-only secret, a copy of this program with that file capability, then the
 * switch to uid 1000 and the exec of the copy, which tries to read the secret. */
static int filecap(void) {
    int fd = open("/tmp/probe-secret", O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "s", 1) != 1) {
        perror("secret");
        return 1;
    }
    close(fd);
    int in = open("/proc/self/exe", O_RDONLY);
    int out = open("/tmp/probe-fc", O_CREAT | O_WRONLY | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n)
            return 1;
    close(in);
    close(out);
    /* struct vfs_cap_data, revision 2, effective; inheritable CAP_DAC_OVERRIDE (1). */
    unsigned int caps[5] = {0x02000000 | 1, 0, 1u << 1, 0, 0};
    if (setxattr("/tmp/probe-fc", "security.capability", caps, sizeof caps, 0) < 0) {
        printf("setxattr=%s\n", errname(errno));
        return 1;
    }
    gid_t none[1];
    if (setgroups(0, none) < 0 && errno != EPERM) {
        perror("setgroups");
        return 1;
    }
    if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) {
        perror("setresuid");
        return 1;
    }
    execl("/tmp/probe-fc", "probe-fc", "readsecret", (char *)NULL);
    perror("exec");
    return 1;
}

static int readsecret(void) {
    char line[256], eff[64] = "?";
    FILE *st = fopen("/proc/self/status", "r");
    while (st && fgets(line, sizeof line, st))
        if (strncmp(line, "CapEff:", 7) == 0)
            sscanf(line + 7, "%63s", eff);
    if (st)
        fclose(st);
    int fd = open("/tmp/probe-secret", O_RDONLY);
    printf("uid=%d capeff=%s secret=%s\n", getuid(), eff, fd >= 0 ? "read" : errname(errno));
    return 0;
}

/* The next process id listed in /proc (0 at the end), other than this process's. */
static int next_pid(DIR *d) {
    struct dirent *e;
    int me = getpid();
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid > 0 && pid != me)
            return pid;
    }
    return 0;
}

static int is_ours(int pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0 && strncmp(buf, "skiff", 5) == 0)
        return 1;
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strstr(buf, "skiff") != NULL || strcmp(buf, "/proc/self/exe") == 0;
}

static int contains(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static int scan(double secs, const char *mark) {
    long environ_hits = 0, exe_open = 0, ptrace_hits = 0, getfd_hits = 0, seen = 0, loops = 0;
    static char seen_pid[1 << 22];
    double end = now() + secs;
    static char buf[1 << 16];
    while (now() < end) {
        loops++;
        DIR *d = opendir("/proc");
        int pid;
        while ((pid = next_pid(d))) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/environ", pid);
            int fd = open(path, O_RDONLY);
            if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n > 0 && contains(buf, n, mark))
                    environ_hits++;
                close(fd);
            }
            if (!is_ours(pid))
                continue;
            if (pid < (int)sizeof seen_pid && !seen_pid[pid]) {
                seen_pid[pid] = 1;
                seen++;
            }
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            fd = open(path, O_PATH);
            if (fd >= 0) {
                if (is_ours(pid))
                    exe_open++;
                close(fd);
            }
            if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0) {
                if (is_ours(pid))
                    ptrace_hits++;
                /* Let go at once (a tracee that exits while held would keep its parent
                 * waiting): stop it, then detach. */
                ptrace(PTRACE_INTERRUPT, pid, NULL, NULL);
                int st;
                if (waitpid(pid, &st, __WALL) == pid && !WIFEXITED(st) && !WIFSIGNALED(st))
                    ptrace(PTRACE_DETACH, pid, NULL, NULL);
            }
            int pidfd = syscall(SYS_pidfd_open, pid, 0);
            if (pidfd >= 0) {
                for (int target = 0; target < 16; target++) {
                    int got = syscall(SYS_pidfd_getfd, pidfd, target, 0);
                    if (got >= 0) {
                        if (is_ours(pid))
                            getfd_hits++;
                        close(got);
                    }
                }
                close(pidfd);
            }
        }
        if (d)
            closedir(d);
    }
    printf("environ=%ld exe_open=%ld ptrace=%ld getfd=%ld seen=%ld loops=%ld\n", environ_hits,
           exe_open, ptrace_hits, getfd_hits, seen, loops);
    return 0;
}

/* The CVE-2019-5736 path: hold the executable of a process that ran skiff's binary inside the
 * container, and once it is gone (no longer busy), try to open it for writing. */
static int exe(double secs, const char *word) {
    double end = now() + secs;
    while (now() < end) {
        DIR *d = opendir("/proc");
        int pid;
        while ((pid = next_pid(d))) {
            char path[64], args[4096];
            snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, args, sizeof args - 1);
            close(fd);
            if (n <= 0)
                continue;
            args[n] = 0;
            size_t first = strlen(args);
            if ((ssize_t)first + 1 >= n || strcmp(args + first + 1, word) != 0)
                continue;
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int held = open(path, O_PATH);
            if (held < 0) {
                printf("held=no error=%s\n", errname(errno));
                return 0;
            }
            char target[4096] = {0};
            ssize_t len = readlink(path, target, sizeof target - 1);
            if (len < 0)
                strcpy(target, "?");
            snprintf(path, sizeof path, "/proc/%d", pid);
            struct stat st;
            while (stat(path, &st) == 0 && now() < end)
                usleep(2000);
            char again[64];
            snprintf(again, sizeof again, "/proc/self/fd/%d", held);
            int r = open(again, O_RDONLY);
            int seals = r >= 0 ? fcntl(r, F_GET_SEALS) : -1;
            if (r >= 0)
                close(r);
            /* Busy while any process still runs it (skiff's own command on the host, too): an
             * attacker waits. */
            int w = open(again, O_WRONLY);
            while (w < 0 && errno == ETXTBSY && now() < end) {
                usleep(5000);
                w = open(again, O_WRONLY);
            }
            const char *opened = w >= 0 ? "yes" : errname(errno);
            const char *wrote = "no";
            if (w >= 0) {
                /* The byte that is there already (an ELF file starts with 0x7f): a write that
                 * succeeds changes nothing, and proves the file writable. */
                wrote = pwrite(w, "\x7f", 1, 0) == 1 ? "ok" : errname(errno);
                close(w);
            }
            for (char *c = target; *c; c++)
                if (*c == ' ')
                    *c = '_';
            printf("held=yes exe=%s sealed=%s open_write=%s write=%s\n", target,
                   seals > 0 && (seals & F_SEAL_WRITE) ? "yes" : "no", opened, wrote);
            return 0;
        }
        if (d)
            closedir(d);
        usleep(1000);
    }
    printf("held=none\n");
    return 0;
}

static int udpecho(int port, int v4only) {
    int s = socket(v4only ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    int off = 0;
    struct sockaddr_in6 a = {0};
    struct sockaddr_in a4 = {0};
    struct sockaddr *addr = (struct sockaddr *)&a;
    socklen_t addr_len = sizeof a;
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a4.sin_family = AF_INET;
    a4.sin_port = htons(port);
    if (v4only) {
        addr = (struct sockaddr *)&a4;
        addr_len = sizeof a4;
    } else {
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (s < 0 || bind(s, addr, addr_len) < 0) {
        printf("ready=0 errno=%s\n", strerror(errno));
        return 1;
    }
    printf("ready=1\n");
    static char buf[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n >= 0)
            sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int dnstime(const char *name, int n, const char *server) {
    char line[256], first[64] = "127.0.0.11";
    FILE *rc = server ? NULL : fopen("/etc/resolv.conf", "r");
    while (rc && fgets(line, sizeof line, rc))
        if (sscanf(line, "nameserver %63s", first) == 1)
            break;
    if (rc)
        fclose(rc);
    if (!server)
        server = first;
    unsigned char q[512], r[512];
    size_t len = 12;
    memset(q, 0, sizeof q);
    q[2] = 1; /* recursion desired */
    q[5] = 1; /* one question */
    for (const char *p = name; *p && len < 400;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        q[len++] = (unsigned char)l;
        memcpy(q + len, p, l);
        len += l;
        p += l + (dot ? 1 : 0);
    }
    q[len++] = 0;
    q[len++] = 0, q[len++] = 1; /* A */
    q[len++] = 0, q[len++] = 1; /* IN */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    inet_pton(AF_INET, server, &a.sin_addr);
    struct timeval tv = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0 || n <= 0) {
        printf("answered=0 errno=%s\n", strerror(errno));
        return 1;
    }
    double *t = calloc((size_t)n, sizeof *t);
    int answered = 0;
    for (int i = 0; i < n; i++) {
        q[0] = (unsigned char)(i >> 8), q[1] = (unsigned char)i;
        double start = now();
        send(s, q, len, 0);
        ssize_t got;
        do
            got = recv(s, r, sizeof r, 0);
        while (got >= 2 && (r[0] != q[0] || r[1] != q[1]));
        t[i] = (now() - start) * 1e6;
        if (got >= 12 && (r[3] & 0xf) == 0 && (r[6] || r[7]))
            answered++;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("answered=%d p50_us=%.0f p99_us=%.0f max_us=%.0f\n", answered, t[n / 2],
           t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], t[n - 1]);
    return answered == n ? 0 : 1;
}

static int dnstcp(const char *name) {
    unsigned char q[512], r[4096];
    size_t len = 14;
    memset(q, 0, sizeof q);
    q[2 + 2] = 1; /* recursion desired (after the 2-byte length) */
    q[2 + 5] = 1;
    for (const char *p = name; *p && len < 400;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        q[len++] = (unsigned char)l;
        memcpy(q + len, p, l);
        len += l;
        p += l + (dot ? 1 : 0);
    }
    q[len++] = 0;
    q[len++] = 0, q[len++] = 1;
    q[len++] = 0, q[len++] = 1;
    q[0] = (unsigned char)((len - 2) >> 8), q[1] = (unsigned char)(len - 2);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    a.sin_addr.s_addr = htonl(0x7f00000b);
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0 || send(s, q, len, 0) < 0) {
        printf("answered=0 errno=%s\n", strerror(errno));
        return 1;
    }
    size_t got = 0;
    ssize_t n;
    while (got < sizeof r && (n = recv(s, r + got, sizeof r - got, 0)) > 0) {
        got += (size_t)n;
        if (got >= 2 && got >= 2 + (size_t)((r[0] << 8) | r[1]))
            break;
    }
    /* The first A record's address: its four bytes end the answer when there is one. */
    size_t want = got >= 2 ? 2 + (size_t)((r[0] << 8) | r[1]) : 0;
    int answers = got >= 12 ? (r[2 + 6] << 8) | r[2 + 7] : 0;
    if (want == 0 || got < want || answers == 0) {
        printf("answered=0\n");
        return 1;
    }
    for (size_t i = 2 + 12; i + 14 <= want; i++)
        if (r[i] == 0 && r[i + 1] == 1 && r[i + 2] == 0 && r[i + 3] == 1 && r[i + 8] == 0 &&
            r[i + 9] == 4) {
            printf("answered=1 address=%u.%u.%u.%u\n", r[i + 10], r[i + 11], r[i + 12], r[i + 13]);
            return 0;
        }
    printf("answered=1\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "fds") == 0)
        return fds();
    if (argc >= 2 && strcmp(argv[1], "cwd") == 0)
        return cwd();
    if (argc >= 2 && strcmp(argv[1], "filecap") == 0)
        return filecap();
    if (argc >= 2 && strcmp(argv[1], "readsecret") == 0)
        return readsecret();
    if (argc >= 2 && strcmp(argv[1], "syscalls") == 0)
        return syscalls(argc >= 3 ? atoi(argv[2]) : 1);
    if (argc >= 4 && strcmp(argv[1], "scan") == 0)
        return scan(atof(argv[2]), argv[3]);
    if (argc >= 4 && strcmp(argv[1], "exe") == 0)
        return exe(atof(argv[2]), argv[3]);
    if (argc >= 3 && strcmp(argv[1], "udpecho") == 0)
        return udpecho(atoi(argv[2]), argc >= 4 && strcmp(argv[3], "4") == 0);
    if (argc >= 3 && strcmp(argv[1], "dnstcp") == 0)
        return dnstcp(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "dnstime") == 0)
        return dnstime(argv[2], atoi(argv[3]), argc >= 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: probe fds|cwd|syscalls|scan SECS MARK|exe SECS WORD|udpecho PORT\n");
    return 2;
}
