// Two glibc calls for the tests' ChildProcess that <spawn.h> and <unistd.h> declare only under _GNU_SOURCE,
// which Swift's Glibc module is built without; shim.c defines it and forwards to them.
#ifndef CSPAWN_H
#define CSPAWN_H

#include <spawn.h>

// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): close every descriptor from `from` up in the child.
int cspawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

// pipe2(fds, O_CLOEXEC): a pipe whose ends a child spawned meanwhile by another thread does not inherit.
int cspawn_pipe_cloexec(int fds[2]);

#endif
