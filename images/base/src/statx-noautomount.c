/*
 * Preloaded into every process of the pod (/etc/ld.so.preload).
 *
 * The gVisor release packaged by Debian 12 (runsc 20221219) rejects AT_NO_AUTOMOUNT in statx()
 * and newfstatat() with EINVAL. coreutils 9 passes that flag, so `ls -l`, `stat`, `cp -a`...
 * fail on every path in a trixie pod ("cannot access '/home': Invalid argument"). Automounts
 * do not exist inside a container, so dropping the flag changes nothing else; under runc the
 * library is a no-op.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *restrict path, int flags, unsigned int mask,
          struct statx *restrict buf) {
  return (int)syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}

int fstatat(int dirfd, const char *restrict path, struct stat *restrict buf, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, buf, flags & ~AT_NO_AUTOMOUNT);
}

int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict buf, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, buf, flags & ~AT_NO_AUTOMOUNT);
}
