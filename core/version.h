/* core/version.h: the one version string of smfs and smctl (and /metrics'
 * smfs_build_info). */
#ifndef SMFS_VERSION_H
#define SMFS_VERSION_H

#define SMFS_VERSION "0.1.0"

#endif
