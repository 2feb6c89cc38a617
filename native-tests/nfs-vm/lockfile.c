/* Byte-range and flock locks for the kernel-client workload (busybox has no flock applet).
 * Usage: lockfile FILE try|flock-try
 *        lockfile FILE hold|flock-hold HELD RELEASE
 * try/flock-try exit 0 when the lock was granted, 1 when another owner holds it, 2 on errors.
 * hold/flock-hold take the lock (waiting for it), create the file HELD, and keep the lock until
 * the file RELEASE exists (at most 120 s): the workload sequences on files, not on sleeps, so a
 * slow emulated guest cannot reorder the steps. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open(argv[1], O_RDWR | O_CREAT, 0666);
  if (fd < 0) { perror("open"); return 2; }
  int hold = strcmp(argv[2], "hold") == 0 || strcmp(argv[2], "flock-hold") == 0;
  int useFlock = strncmp(argv[2], "flock", 5) == 0;
  int rc;
  if (useFlock) {
    rc = flock(fd, LOCK_EX | (hold ? 0 : LOCK_NB));
  } else {
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    rc = fcntl(fd, hold ? F_SETLKW : F_SETLK, &lock);
  }
  if (rc != 0) {
    if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK) return 1;
    perror("lock");
    return 2;
  }
  if (hold && argc > 4) {
    int held = open(argv[3], O_WRONLY | O_CREAT, 0666);
    if (held < 0) { perror("held"); return 2; }
    close(held);
    struct stat release;
    for (int waited = 0; waited < 1200 && stat(argv[4], &release) != 0; waited++) usleep(100000);
  }
  return 0;
}
