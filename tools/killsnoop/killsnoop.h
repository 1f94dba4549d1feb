/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* killsnoop's records are sigsnoop's (struct sigsnoop_event, with source
 * kill, tkill or tgkill): killsnoop runs sigsnoop's BPF program. */
#ifndef __KILLSNOOP_H
#define __KILLSNOOP_H

#include "../sigsnoop/sigsnoop.h"

#endif /* __KILLSNOOP_H */
