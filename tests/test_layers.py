#!/usr/bin/env python3
"""scripts/check-layers: the tree passes; an upward include, a file in no
layer or outside its layer's folder, and app/ reaching past <pt.h> each
fail, naming the file and line.

Run: python3 tests/test_layers.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("PT_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "check-layers")


class TestLayers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pt-layers-")
        for folder in ("engine", "app", "cli"):
            shutil.copytree(os.path.join(ROOT, folder), os.path.join(self.tmp, folder))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check(self, root):
        return subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True,
                              timeout=60)

    def append(self, path, text):
        with open(os.path.join(self.tmp, path), "a") as f:
            f.write(text)

    def test_tree_passes(self):
        out = self.check(ROOT)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.check(self.tmp).returncode, 0)

    def test_upward_include_fails(self):
        # quic may not use the tunnel layer
        self.append("engine/quic/pt-quic-conn.c", '#include "pt-tunnel-private.h"\n')
        out = self.check(self.tmp)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"engine/quic/pt-quic-conn\.c:\d+: includes pt-tunnel-private\.h "
                                     r"\(layer tunnel\) from layer quic")

    def test_downward_include_passes(self):
        self.append("engine/tunnel/pt-tunnel.c", '#include "pt-keys-private.h"\n')
        self.assertEqual(self.check(self.tmp).returncode, 0)

    def test_file_in_no_layer_fails(self):
        self.append("engine/base/pt-new-thing.c", '#include "config.h"\n')
        out = self.check(self.tmp)
        self.assertEqual(out.returncode, 1)
        self.assertIn("engine/pt-new-thing.*: in no layer; add it to engine/LAYERS", out.stderr)

    def test_file_outside_its_layer_folder_fails(self):
        os.rename(os.path.join(self.tmp, "engine/quic/pt-quic-conn.c"),
                  os.path.join(self.tmp, "engine/base/pt-quic-conn.c"))
        self.append("engine/pt-loose.c", '#include "config.h"\n')
        out = self.check(self.tmp)
        self.assertEqual(out.returncode, 1)
        self.assertIn("engine/base/pt-quic-conn.c: engine/LAYERS puts it in layer quic: "
                      "move it to engine/quic/", out.stderr)
        self.assertIn("engine/pt-loose.c: a source file belongs in its layer's folder", out.stderr)

    def test_app_past_the_public_header_fails(self):
        self.append("app/pt-window.c", '#include "pt-session-private.h"\n')
        self.append("cli/pt-cli.c", '#include <pt-tunnel.h>\n')
        out = self.check(self.tmp)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"app/pt-window\.c:\d+: includes the engine's pt-session-private\.h")
        self.assertRegex(out.stderr, r"cli/pt-cli\.c:\d+: includes the engine's pt-tunnel\.h")


if __name__ == "__main__":
    unittest.main()
