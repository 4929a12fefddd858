"""Refusing delegation: an exercise may not hand its work to a function that already does it.

A student could pass a check by calling the very function the exercise asks for: ``tf.clip_by_global_norm``
inside ``clip_gradients``, the course's ``macro_recall`` inside theirs, Keras's ``SimpleRNNCell`` inside
``MyRNNCell``. The checks therefore run the student's code under :func:`refuse_delegation`, which watches
every Python function that starts (``sys.setprofile``) and fails, with a message saying what to do instead,
when one of the exercise's forbidden functions ran.

A forbidden function is recognised by its code: the file that defines it (a path suffix such as
``tensorflow/python/ops/clip_ops.py``) and its qualified name. A library's file is best found from a public object
it defines (:meth:`Forbidden.defined_with`, ``keras.layers.LSTMCell``), when the checks are imported, so a version
that moves its private files is followed. Nothing is looked up in modules while watching, so an alias
(``from tensorflow import clip_by_global_norm as clip``), a reference captured earlier in a default argument
or a closure, a wrapper, a subclass whose ``call`` runs ``super().call``, or a module attribute the student
replaced makes no difference, and a fresh copy of the course's modules elsewhere on disk is still recognised.
Inside ``tf.function``, AutoGraph's converted copy of a Python function counts as the original.

Threads the student's code starts while watched are watched too (``threading.setprofile``). Switching the
watch off (``sys.setprofile(None)``, even if it is put back afterwards) is refused like delegation, and the
checks' own reference computations refuse to run while a watch is on (:func:`refuse_reference_while_watched`),
however they are reached: a copy of their code, a thread the watch does not see.

What it cannot see: code that runs no Python while watched (a graph the student traced before the check,
with the check's exact input signature), and threads that were already running when the watch began.

Example::

    CLIP = Exercise("clip_gradients", hint="compute the global norm and the scale yourself",
                    forbidden=(Forbidden("tf.clip_by_global_norm", "tensorflow/python/ops/clip_ops.py", "clip_by_global_norm"),))
    with refuse_delegation(CLIP):
        clipped, norm = clip_gradients(grads, 1.0)
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import ParamSpec, Self, TypeVar

from course_utils.checks import CheckFailed

# Taken once, at import: replacing sys.setprofile later does not switch the watch off.
_getprofile, _setprofile = sys.getprofile, sys.setprofile
_thread_getprofile, _thread_setprofile = threading.getprofile, threading.setprofile

# Inside tf.function, AutoGraph runs a converted copy of a Python function, written to a generated file
# and called from converted_call (whose local `target_entity` is the original function).
_AUTOGRAPH_GENERATED = "__autograph_generated_file"
_AUTOGRAPH_CALLER = "tensorflow/python/autograph/impl/api.py"

_UNJUDGED = object()  # a code object not looked at yet

# What refusing_delegation keeps of the function it wraps: its parameters and its result.
Arguments = ParamSpec("Arguments")
Result = TypeVar("Result")


class DelegationRefused(CheckFailed):
    """The student's code called a function that does the exercise for it."""


@dataclass(frozen=True)
class Forbidden:
    """A function that does (part of) an exercise, recognised by where its code is defined.

    Args:
        name: how students know it, for the message, e.g. ``"tf.clip_by_global_norm"``.
        path: the end of the path of the file that defines it, with ``/``, e.g. ``"tensorflow/python/ops/clip_ops.py"``.
        qualname: its ``__qualname__`` in that file, as a shell-style pattern: ``"AttentionPooling.call"``,
            ``"SimpleRNNCell.*"``, or ``"*"`` (the default) for every function of the file.
    """

    name: str
    path: str
    qualname: str = "*"

    def matches(self, code: CodeType) -> bool:
        """Whether ``code`` (a code object) is the code of this function.

        Args:
            code: a code object, e.g. ``frame.f_code``.

        Returns:
            bool.
        """
        filename = _normalised(code.co_filename)
        in_file = filename == self.path or filename.endswith("/" + self.path)
        return in_file and fnmatch.fnmatchcase(code.co_qualname, self.qualname)

    @classmethod
    def defined_with(cls, name: str, public: str, qualname: str = "*") -> Self:
        """A forbidden function of the file that defines a library's public object, wherever the library keeps it.

        Args:
            name: as for :class:`Forbidden`.
            public: the public dotted name of an object defined in that file, e.g. ``"keras.layers.LSTMCell"``.
            qualname: as for :class:`Forbidden`, e.g. ``"RNN.call"``.

        Returns:
            a :class:`Forbidden` whose ``path`` is :func:`defining_file` of ``public``.
        """
        return cls(name, defining_file(public), qualname)


def defining_file(public: str) -> str:
    """The file that defines a public object, found with :mod:`inspect`, from the folder that holds its package.

    Args:
        public: a dotted name, module then attribute, e.g. ``"keras.layers.LSTMCell"``.

    Returns:
        str with ``/``, e.g. ``"keras/src/layers/rnn/lstm.py"`` in Keras 3.
    """
    module, _, attribute = public.rpartition(".")
    obj = getattr(importlib.import_module(module), attribute)
    source = Path(inspect.getsourcefile(obj))
    package = Path(inspect.getsourcefile(importlib.import_module(public.split(".")[0])))  # keras/__init__.py
    try:
        return source.relative_to(package.parents[1]).as_posix()
    except ValueError:  # the package's own files elsewhere: the whole path
        return _normalised(str(source))


@dataclass(frozen=True)
class Exercise:
    """An exercise and the functions that would do it for the student.

    Args:
        name: the name students know, e.g. ``"clip_gradients"`` or ``"MyRNNCell"``.
        hint: what to do instead; it ends the failure message.
        forbidden: tuple of :class:`Forbidden`.
    """

    name: str
    hint: str
    forbidden: tuple[Forbidden, ...]


def refusal_message(exercise: Exercise, forbidden: Forbidden) -> str:
    """The failure message for ``exercise`` having called ``forbidden``.

    Args:
        exercise: an :class:`Exercise`.
        forbidden: the :class:`Forbidden` function that ran.

    Returns:
        str, e.g. ``"clip_gradients calls tf.clip_by_global_norm, which is the exercise itself: ..."``.
    """
    if forbidden is _SWITCHED_OFF:
        return f"{exercise.name} calls sys.setprofile, which switches off the check's watch for functions that do the exercise: {exercise.hint}"
    return f"{exercise.name} calls {forbidden.name}, which is the exercise itself: {exercise.hint}"


# Stands for the student's code switching the watch off, in place of a forbidden function that ran.
_SWITCHED_OFF = Forbidden("sys.setprofile", "sys.setprofile")


@contextmanager
def refuse_delegation(exercise: Exercise) -> Iterator[None]:
    """Runs the body while watching for the exercise's forbidden functions; fails if one of them ran.

    The previous profile function is restored on the way out, error or not, and keeps receiving every
    event meanwhile, so nested uses each watch their own body.

    Args:
        exercise: an :class:`Exercise`.

    Raises:
        DelegationRefused: a forbidden function ran in the body. It replaces an error the body raised
            (chained to it): delegating is the mistake to fix first.
    """
    previous, previous_for_threads = _getprofile(), _thread_getprofile()
    hook, seen = _watcher(exercise, previous)
    _thread_setprofile(hook)
    _setprofile(hook)
    try:
        yield
    except DelegationRefused:
        raise  # a nested watch already refused
    except Exception as error:
        if seen:
            raise DelegationRefused(refusal_message(exercise, seen[0])) from error
        raise
    finally:
        switched_off = _getprofile() is not hook
        _setprofile(previous)
        _thread_setprofile(previous_for_threads)
    if switched_off and not seen:
        seen.append(_SWITCHED_OFF)
    if seen:
        raise DelegationRefused(refusal_message(exercise, seen[0]))


def refuse_reference_while_watched(reference: str) -> None:
    """Fails if any exercise is being watched: the first statement of a check's reference computation.

    The checks that call it compute their references before they run the student's code, so a reference that runs
    while a watch is on was called by the student's code (directly, from a thread started under the watch, or as a
    copy of its code object, which keeps this call). The watch is recognised by its profile function, so this
    works whichever copy of this module (the grader's private one, or the public one) installed it.

    Args:
        reference: what the reference computes, for the message, e.g. ``"the check's reference macro recall"``.

    Raises:
        DelegationRefused: a watch is on.
    """
    exercise = getattr(_getprofile(), _WATCHED_EXERCISE, None)
    if exercise is not None:
        raise DelegationRefused(refusal_message(exercise, Forbidden(reference, "<reference>")))


def refusing_delegation(fn: Callable[Arguments, Result], exercise: Exercise) -> Callable[Arguments, Result]:
    """``fn`` wrapped so that every call to it runs under :func:`refuse_delegation`.

    Args:
        fn: the student's function.
        exercise: an :class:`Exercise`.

    Returns:
        a function taking the same arguments as ``fn`` and returning what it returns.
    """

    def watched(*args, **kwargs):
        with refuse_delegation(exercise):
            return fn(*args, **kwargs)

    return watched


# The attribute of a watch's profile function that holds its exercise.
_WATCHED_EXERCISE = "course_watched_exercise"


def _watcher(exercise, previous):
    """A profile hook that notes the first forbidden function to start, then passes every event to ``previous``.

    Args:
        exercise: the :class:`Exercise` watched.
        previous: the profile function installed before (``sys.getprofile()``), or None.

    Returns:
        (hook, seen): the hook for ``sys.setprofile``, and the list it appends the forbidden function to.
    """
    forbidden = exercise.forbidden
    verdicts = {}  # code object -> the Forbidden it is, or None: each code is judged once
    seen = []
    unjudged = _UNJUDGED

    def hook(frame, event, arg):
        # Only 'call' starts a Python function, and only sys.setprofile among C functions matters: the
        # student's code calling it (not refuse_delegation here) switches the watch off.
        if event == "c_call" and arg is _setprofile and frame.f_globals is not _MODULE_GLOBALS and not seen:
            seen.append(_SWITCHED_OFF)
        elif event == "call" and not seen:
            code = frame.f_code
            verdict = verdicts.get(code, unjudged)
            if verdict is unjudged:
                verdict = verdicts[code] = _judge(forbidden, _origin(frame))
            if verdict is not None:
                seen.append(verdict)

    if not callable(previous):
        setattr(hook, _WATCHED_EXERCISE, exercise)
        return hook, seen

    def chained_hook(frame, event, arg):
        hook(frame, event, arg)
        previous(frame, event, arg)  # an outer watch (or another profiler) keeps seeing everything

    setattr(chained_hook, _WATCHED_EXERCISE, exercise)
    return chained_hook, seen


def _judge(forbidden, code):
    """The first of ``forbidden`` that ``code`` is, or None."""
    return next((function for function in forbidden if function.matches(code)), None)


def _origin(frame):
    """The code whose work ``frame`` does: its own, or for AutoGraph's converted copy, the original's."""
    code = frame.f_code
    if _AUTOGRAPH_GENERATED in code.co_filename:
        caller = frame.f_back
        if caller is not None and _normalised(caller.f_code.co_filename).endswith(_AUTOGRAPH_CALLER):
            original = getattr(caller.f_locals.get("target_entity"), "__code__", None)
            if original is not None:
                return original
    return code


_MODULE_GLOBALS = globals()


def _normalised(filename):
    return filename.replace("\\", "/")


__all__ = [
    "DelegationRefused",
    "Exercise",
    "Forbidden",
    "defining_file",
    "refusal_message",
    "refuse_delegation",
    "refuse_reference_while_watched",
    "refusing_delegation",
]
