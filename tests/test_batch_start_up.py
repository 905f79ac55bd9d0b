"""What ``soothe physio process`` imports: library start-up is most of a short batch's time.

- Importing the batch (what the ``soothe`` command and a pool batch's parent import) loads
  no processing stack (``scipy.signal``, ``matplotlib``): an in-process batch starts reading
  its first input on the read-ahead thread and imports them meanwhile (``physio.batch``).
- The whole process on a BIDS input loads none of the heavy libraries this path never uses
  (other formats' readers, the optional engines and cluster, statistics, plotting servers).
"""

from __future__ import annotations

import subprocess
import sys

from tests.readers_fixtures import write_bids_session

#: Loaded where recordings are processed (and for the QC index), never by importing the batch.
PROCESSING_STACK = ("scipy.signal", "scipy.stats", "matplotlib")
#: Never loaded by processing a BIDS recording with the default engine.
NEVER_ON_THIS_PATH = ("statsmodels", "mne", "bokeh", "dask", "distributed", "pyxdf", "bioread",
                      "wfdb", "edfio", "neurokit2", "sklearn", "numba", "tqdm", "jinja2",
                      "psychopy", "h5py", "tables", "seaborn", "pingouin")


def _loaded(code: str, names: tuple[str, ...]) -> list[str]:
    """The names of ``names`` in ``sys.modules`` after running ``code`` in a fresh process."""
    code += (
        "\nimport sys\n"
        f"print('LOADED:' + ','.join(n for n in {names!r} if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("LOADED:")
    return [m for m in line[len("LOADED:"):].split(",") if m]


def test_importing_the_batch_loads_no_processing_stack():
    assert _loaded("import physio.batch", PROCESSING_STACK + NEVER_ON_THIS_PATH) == []


def test_writing_the_qc_index_loads_no_plotting_library(tmp_path):
    # a pool batch's parent writes the index after its workers drew the figures
    code = (
        "from physio.qc_index import write_qc_index\n"
        f"write_qc_index(__import__('pathlib').Path({str(tmp_path / 'index.html')!r}), [], [])\n"
    )
    assert _loaded(code, PROCESSING_STACK) == []
    assert (tmp_path / "index.html").is_file()


def test_the_check_sees_a_processing_module_loaded():
    assert _loaded("import physio.pipeline", PROCESSING_STACK) == ["scipy.signal",
                                                                   "scipy.stats"]


def test_processing_a_bids_session_loads_no_library_it_does_not_use(tmp_path):
    write_bids_session(tmp_path / "raw", seconds=60.0)
    code = (
        "import sys\n"
        f"sys.argv = ['soothe', 'physio', 'process', {str(tmp_path / 'raw')!r}, '--out', "
        f"{str(tmp_path / 'deriv')!r}, '--jobs', '1', '--no-progress']\n"
        "from soothe.cli import main\n"
        "assert main() == 0\n"
    )
    assert _loaded(code, NEVER_ON_THIS_PATH) == []
    assert (tmp_path / "deriv" / "qc" / "index.html").is_file()


def test_the_reader_is_imported_before_the_read_ahead_thread_reads(tmp_path):
    # the read-ahead thread reads while the batch's own thread imports the processing
    # stack; the reader's modules are imported first, so no module is imported by both
    files = write_bids_session(tmp_path / "raw", seconds=20.0)
    code = (
        "import sys\n"
        "from concurrent.futures import Future\n"
        "from physio.batch.read_ahead import ReadAhead\n"
        "from physio.batch.scheduling import start_read_ahead\n"
        "class Recorder:\n"
        "    def submit(self, read):\n"
        "        print('READER_LOADED:', 'physio.io.read_bids' in sys.modules)\n"
        "        done = Future(); done.set_result(None); return done\n"
        f"args = ({str(files.physio_tsv_gz)!r}, {str(tmp_path / 'deriv')!r}, {{}}, None, True, "
        "None, None, ('001', '1', None))\n"
        "print('BEFORE:', 'physio.io.read_bids' in sys.modules)\n"
        "print('STARTED:', start_read_ahead(ReadAhead(Recorder()), args))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["BEFORE:", "False", "READER_LOADED:", "True",
                                  "STARTED:", "True"]
