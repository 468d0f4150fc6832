"""Checks upstream/cpython/fork_repro.py without running it, on any OS: its
ctypes structures against the sizes and offsets of XNU's headers
(apple-oss-distributions/xnu), its constants, its Theil-Sen slope and
interval against scipy's, and its answer line against the regex that
ci/cpython-fix.sh and report read. Run by ci/tests/fork-repro.sh under each
interpreter it finds:

    python3 -m unittest ci/tests/fork_repro_layout.py   (from the repository root)
"""
import contextlib
import ctypes
import importlib.util
import io
import os
import re
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "upstream", "cpython", "fork_repro.py")


def load():
    spec = importlib.util.spec_from_file_location("fork_repro", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines only: main() runs under __main__
    return module


fr = load()

# The last line's contract (fixed with ci/cpython-fix.sh and report).
ANSWER = re.compile(r"^fork_repro: os\.fork ([+-]\d+\.\d\d) map entries per fork, control "
                    r"(?:([+-]\d+\.\d\d)|not run \(([^)]*)\)): (.+)$")


def offsets(struct):
    return {name: getattr(struct, name).offset for name, _ in struct._fields_}


class Layouts(unittest.TestCase):
    def test_task_vm_info_as_task_info_h(self):
        # osfmk/mach/task_info.h, inside "#pragma pack(push, 4)":
        # mach_vm_size_t virtual_size; integer_t region_count; integer_t
        # page_size; then 16 mach_vm_size_t to compressed_lifetime (revision
        # 0); TASK_VM_INFO_COUNT is 89 natural_t (revision 6), and REV5 = REV6
        # - 2, REV4 = REV5 - 1, REV3 = REV4 - 2, REV2 = REV3 - 42, REV1 = REV2
        # - 4, REV0 = REV1 - 2.
        rev0 = 89 - 2 - 1 - 2 - 42 - 4 - 2
        self.assertEqual(rev0, 36)
        self.assertEqual(fr.TASK_VM_INFO_REV0_COUNT, rev0)
        self.assertEqual(ctypes.sizeof(fr.TaskVmInfoRev0), rev0 * 4)
        got = offsets(fr.TaskVmInfoRev0)
        self.assertEqual((got["virtual_size"], got["region_count"], got["page_size"]), (0, 8, 12))
        self.assertEqual(got["resident_size"], 16)
        self.assertEqual(got["compressed_lifetime"], 136)
        self.assertEqual(fr.TaskVmInfoRev0.region_count.size, 4)  # integer_t

    def test_submap_info_as_vm_region_h(self):
        # osfmk/mach/vm_region.h, struct vm_region_submap_info_64 inside
        # "#pragma pack(push, 4)": the 8-byte offset at 12 (16 unpacked),
        # VM_REGION_SUBMAP_INFO_COUNT_64 = V2 = sizeof / 4 = 19, V1 = V2 - 2
        # (object_id_full, 8 bytes), V0 = V1 - 1 (pages_reusable).
        s = fr.VmRegionSubmapInfo64
        got = offsets(s)
        expect = {"protection": 0, "max_protection": 4, "inheritance": 8, "offset": 12, "user_tag": 20,
                  "pages_resident": 24, "pages_shared_now_private": 28, "pages_swapped_out": 32,
                  "pages_dirtied": 36, "ref_count": 40, "shadow_depth": 44, "external_pager": 46,
                  "share_mode": 47, "is_submap": 48, "behavior": 52, "object_id": 56,
                  "user_wired_count": 60, "pages_reusable": 64, "object_id_full": 68}
        self.assertEqual(got, expect)
        self.assertEqual(ctypes.sizeof(s), 76)
        self.assertEqual(fr.VM_REGION_SUBMAP_INFO_COUNT_64, 19)

    def test_constants_as_the_headers(self):
        self.assertEqual(fr.TASK_VM_INFO, 22)          # osfmk/mach/task_info.h
        self.assertEqual(fr.VM_MEMORY_MACH_MSG, 20)    # osfmk/mach/vm_statistics.h
        self.assertEqual(fr.vm_make_tag(20), 20 << 24)  # VM_MAKE_TAG, vm_statistics.h
        self.assertEqual(fr.KERN_SUCCESS, 0)


class Statistics(unittest.TestCase):
    def close(self, a, b):
        self.assertAlmostEqual(a, b, delta=1e-12 * max(abs(b), 1e-300))

    def test_theil_sen_and_sen_interval_as_scipy(self):
        # scipy.stats.theilslopes (scipy 1.17.1, alpha 0.95), the same
        # references as drift/src/stats.rs's sen_interval test.
        y = [1.2, 1.5, 1.1, 1.9, 2.4, 2.4, 2.0, 3.1, 2.9, 3.3]
        slope, lo, hi = fr.theil_sen(list(enumerate(y)))
        self.close(lo, 0.16666666666666666)
        self.close(hi, 0.30000000000000004)
        self.close(slope, 0.2333333333333333)
        _, lo, hi = fr.theil_sen(list(enumerate([5.0, 4.0, 4.0, 4.0, 6.0, 3.0, 2.0])))
        self.assertEqual((lo, hi), (-1.0, 0.25))
        x = [50.0, 150.0, 250.0, 350.0, 450.0, 550.0, 650.0, 725.0]
        y = [0.675, 0.738, 0.70, 0.81, 0.79, 0.85, 0.83, 0.91]
        slope, lo, hi = fr.theil_sen(list(zip(x, y)))
        self.close(lo, 0.0001733333333333335)
        self.close(hi, 0.0004500000000000004)
        self.close(slope, 0.0003120652173913044)
        self.assertIsNone(fr.theil_sen([(1.0, 2.0), (1.0, 3.0)]))


def result(per_fork=None, batches=2, forks=100, **fields):
    """A Result whose count grew by per_fork per fork."""
    r = fr.Result("x")
    if per_fork is not None:
        r.count0 = (500, None)
        grown = 500 + int(round(per_fork * batches * forks))
        r.batches = [(0.1, 0.01, 500, None, forks)] * (batches - 1) + [(0.1, 0.01, grown, None, forks)]
    for k, v in fields.items():
        setattr(r, k, v)
    return r


class Answer(unittest.TestCase):
    def line(self, real, control):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = fr.answer(real, control)
        text = out.getvalue()
        self.assertEqual(text.count("\n"), 1, text)
        return text.rstrip("\n"), status

    def test_the_answers_and_their_thresholds(self):
        cases = [
            (1.0, 0.0, "+1.00", "+0.00", "the thread count leaks"),
            (0.0, 0.0, "+0.00", "+0.00", "no leak here"),
            (1.0, 1.0, "+1.00", "+1.00", "both leak, so not the thread count alone"),
            (0.9, 0.1, "+0.90", "+0.10", "the thread count leaks"),
            (0.5, 0.0, "+0.50", "+0.00", "unclear (between +0.10 and +0.90 map entries per fork)"),
            (0.0, 1.0, "+0.00", "+1.00", "only the control leaks, unexpected"),
            (-0.001, 0.0, "+0.00", "+0.00", "no leak here"),
        ]
        for real, control, a, b, what in cases:
            text, status = self.line(result(real), result(control))
            m = ANSWER.match(text)
            self.assertIsNotNone(m, text)
            self.assertEqual((m.group(1), m.group(2), m.group(4)), (a, b, what), text)
            self.assertEqual(status, 0)

    def test_a_control_not_run_says_why(self):
        text, status = self.line(result(0.0), result(unavailable="no ctypes.pythonapi"))
        m = ANSWER.match(text)
        self.assertIsNotNone(m, text)
        self.assertEqual((m.group(2), m.group(3), m.group(4)), (None, "no ctypes.pythonapi", "no leak here"))
        self.assertEqual(status, 0)
        text, _ = self.line(result(1.0), result(unavailable="no PyOS_BeforeFork in ctypes.pythonapi"))
        self.assertTrue(ANSWER.match(text).group(4).startswith("os.fork leaks"), text)
        text, status = self.line(result(0.0), result(failed="its interpreter exited with 1: boom (x)"))
        self.assertEqual(ANSWER.match(text).group(3), "it failed")
        self.assertEqual(status, 1)

    def test_nothing_counted(self):
        text, status = self.line(result(nocount="the first count failed [task_info]"), result(0.0))
        self.assertEqual(text, "fork_repro: os.fork map entries not counted (the first count failed [task_info])")
        self.assertEqual(status, 1 if fr.sys.platform == "darwin" else 0)
        text, status = self.line(result(failed="its interpreter exited with 1: x"), result(0.0))
        self.assertTrue(text.startswith("fork_repro: os.fork map entries not counted (its interpreter"), text)
        self.assertEqual(status, 1)

    def test_outside_text_is_one_bounded_line_without_parentheses(self):
        self.assertEqual(fr.one_line("a\nb\x1b(c)"), "a b [c]")
        self.assertEqual(len(fr.one_line("x" * 500)), 200)


if __name__ == "__main__":
    unittest.main()
