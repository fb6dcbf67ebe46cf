"""The ``mlgate`` command line: one small module per command.

Each public module here (``diff.py`` is ``mlgate diff``, ``pull_model.py`` is
``mlgate pull-model``) defines ``HELP`` (one line), ``configure(parser)`` and
``run(args) -> int``. Command modules import only argparse at module level; heavy libraries
are imported inside ``run`` so ``mlgate --help`` stays fast.
"""
