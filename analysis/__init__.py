"""Trial analysis, in one home: gait cycles, summaries, the merged export table, trial and comparison reports.

Outside what the device must import (firmware_bridge) and outside the bench (hil): both the bench report and
the ``hipexo trial`` commands use it. Runs on the base install; plots need matplotlib and Parquet needs pyarrow
(the ``analysis`` extra).
"""
