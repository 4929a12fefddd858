"""nbgrader configuration: instructor notebooks in solutions/, generated student labs in labs/.

Our own commands (``course build-labs``, ``course grade``) load this file; plain nbgrader
commands work too when run from the repository root with ``--config autograde/nbgrader_config.py``.
"""

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades

from autograde.authoring.preprocessors import STUB_CODE, RequireTodo, SetColabLinks
from autograde.course import Course
from autograde.grading.feedback import BoundedPage, FeedbackExporter, HideTestDetails, InertOutputs
from autograde.grading.guarded_execute import GuardedExecute

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
course = Course.load(Path(__file__).resolve().parents[1])

c.CourseDirectory.root = str(course.root)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"

# nbgrader's release pipeline, after our link rewriting and our check that every solution region has its TODO lines
# above it (ClearSolutions keeps them and puts our stub in place of the region).
c.GenerateAssignment.preprocessors = [SetColabLinks, RequireTodo] + GenerateAssignment.class_traits()[
    "preprocessors"
].default()
c.ClearSolutions.code_stub = {"python": STUB_CODE}
c.SetColabLinks.repository_slug = course.github_slug
c.SetColabLinks.ref = course.release

# Grading: our hardened Execute, and feedback that never shows hidden tests nor runs anything the student's code sent.
c.Autograde.autograde_preprocessors = [
    GuardedExecute if p is Execute else p for p in Autograde.class_traits()["autograde_preprocessors"].default()
]
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    HideTestDetails,
    BoundedPage,
    InertOutputs,
    CSSHTMLHeaderPreprocessor,
]
# A student's own cell may hold the hidden-tests markers too: cut that region out of the page instead of failing it.
# (Set for the feedback exporter, whose preprocessors read it: the release must still refuse markers outside test cells.)
c.FeedbackExporter.ClearHiddenTests.enforce_metadata = False
c.GenerateFeedback.exporter_class = FeedbackExporter
c.Execute.kernel_name = "python3"  # the submission's own kernelspec may name a kernel this machine lacks
