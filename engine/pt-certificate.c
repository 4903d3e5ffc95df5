/* pt-certificate.c — placeholder, being written
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-certificate"

#include "config.h"

#include "pt.h"
