"""Reporting: what a grading output folder says, for people and LMSs: ``course report``, ``course similarity`` and
``course export``. It reads the folder ``course grade`` wrote (:class:`autograde.course.OutputFolder`) and the rows'
format (:mod:`autograde.grading.rows`), never the grading stack itself."""
