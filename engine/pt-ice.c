/* pt-ice.c — placeholder, being written
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-ice"

#include "config.h"

#include "pt.h"
