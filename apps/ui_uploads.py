"""Rejected uploads, for the pages: the library's message beside the uploader, and the rejected file removed.

Streamlit offers no way to take a file out of an uploader but to make a new uploader: a rejection gives the uploader
a new key (``base``, ``base_1``, ``base_2`` …) and keeps the file's name and the library's
:class:`ipabs.errors.InputError` in the session, shown beside the new, empty uploader until another file is chosen.
(Files the browser itself refuses — wrong type, over the size limit — never reach the app: Streamlit marks them on
the file chip in its own words.)
"""

from __future__ import annotations

from typing import Any

import streamlit as st
import ui_common as ui

from ipabs.errors import InputError


def key(base: str) -> str:
    """The uploader's current key."""
    gen = st.session_state.get(f"{base}__gen", 0)
    return base if gen == 0 else f"{base}_{gen}"


def reject(base: str, name: str, err: InputError) -> None:
    """Remember the library's message for ``name``, empty the uploader and rerun (never returns)."""
    st.session_state[f"{base}__rejected"] = (name, err)
    st.session_state[f"{base}__gen"] = st.session_state.get(f"{base}__gen", 0) + 1
    st.rerun()


def show(base: str, current: Any) -> None:
    """Below the uploader: why its last file was rejected, until the user chooses another one."""
    rejected = st.session_state.get(f"{base}__rejected")
    if rejected is None:
        return
    if current is not None:
        st.session_state.pop(f"{base}__rejected", None)
        return
    name, err = rejected
    st.error(ui.t("upload_rejected", name=name))
    ui.show_input_error(err)


def names_file(err: InputError, name: str) -> bool:
    """Whether the library's message is about the uploaded file ``name`` (its issues name their file)."""
    return any(name in str(getattr(i, "file", "") or "") or name in str(i) for i in err.issues)
