/* pt-config.h — option files (GKeyFile) mapped onto GOptionEntry tables
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* Applies the keys of @group in @key_file to the arg_data of @entries, keyed by
 * long_name. Supported arg types: NONE (boolean), STRING, FILENAME, INT,
 * STRING_ARRAY and FILENAME_ARRAY (GKeyFile lists, ';'-separated).
 * Memory for the values is appended to @owned (free it with g_ptr_array_unref
 * once the options are no longer used). Callers apply the file first and
 * parse the command line afterwards, so the command line overrides the file.
 * A key that no entry has is PT_CONFIG_ERROR_UNKNOWN_KEY; a bad value is
 * PT_CONFIG_ERROR_INVALID; both name the file (@origin), group and key.
 * A missing group applies nothing and succeeds. */
gboolean pt_config_apply (GKeyFile           *key_file,
                          const char         *origin,
                          const char         *group,
                          const GOptionEntry *entries,
                          GPtrArray          *owned,
                          GError            **error);

/* Loads @path as a key file: PT_CONFIG_ERROR_PARSE names the file and line. */
GKeyFile *pt_config_load (const char *path,
                          GError    **error);

G_END_DECLS
