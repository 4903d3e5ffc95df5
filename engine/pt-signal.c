/* pt-signal.c — placeholder, being written
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-signal"

#include "config.h"

#include "pt.h"
