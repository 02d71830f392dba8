"""ipabs web app: navigation over the page scripts in apps/pages/ and the language switch (中文 default, English).

Run with ``make app`` (``streamlit run apps/streamlit_app.py``). The pages hold UI only; the numerics are in ipabs.
"""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the pages import ui_common / ui_runs from apps/

import ui_common as ui  # noqa: E402

st.set_page_config(page_title="ipabs", page_icon=":material/account_balance:", layout="wide")
# The language lives in the session ("lang") and in the URL (?lang=en): a reload or a shared link keeps it. A new
# session takes it from the URL (中文 by default); the switch writes both. The switch is a widget of its own
# ("lang_switch") that follows "lang": with a pages/ folder beside this script, Streamlit runs a session's first run
# as a v1 multipage app and the later ones through st.navigation, which gives every widget of this script a new
# identity after the first run — a widget-keyed language was lost at the first switch (and in every AppTest rerun).
if st.session_state.get("lang") not in ui.LANGS:
    st.session_state["lang"] = ui.url_lang() or "zh"
if st.session_state.get("lang_switch") != ui.lang():
    st.session_state["lang_switch"] = ui.lang()


def switch_language() -> None:
    st.session_state["lang"] = st.session_state["lang_switch"]
    ui.lang_to_url()


st.sidebar.radio("语言 / Language", ui.LANGS, key="lang_switch", horizontal=True, on_change=switch_language,
                 format_func=lambda code: {"zh": "中文", "en": "English"}[code])
if st.query_params.get("lang") != ui.lang():  # a new session, or a page switch, which drops the query string
    ui.lang_to_url()

pages = {
    ui.t("nav_structuring"): [
        st.Page("pages/deal.py", title=ui.t("page_deal"), icon=":material/account_tree:", url_path="deal",
                default=True),
        st.Page("pages/compare.py", title=ui.t("page_compare"), icon=":material/compare:", url_path="compare"),
        st.Page("pages/tranche_sizing.py", title=ui.t("page_tranche_sizing"), icon=":material/straighten:",
                url_path="tranche-sizing"),
        st.Page("pages/stress_grid.py", title=ui.t("page_stress_grid"), icon=":material/grid_on:",
                url_path="stress-grid"),
    ],
    ui.t("nav_policy"): [
        st.Page("pages/eligibility.py", title=ui.t("page_eligibility"), icon=":material/fact_check:",
                url_path="eligibility"),
        st.Page("pages/budget.py", title=ui.t("page_budget"), icon=":material/savings:", url_path="budget"),
        st.Page("pages/fund.py", title=ui.t("page_fund"), icon=":material/shield:", url_path="fund"),
    ],
    ui.t("nav_surveillance"): [
        st.Page("pages/surveillance.py", title=ui.t("page_surveillance"), icon=":material/monitoring:",
                url_path="surveillance"),
    ],
}
ui.cluster_setting()
st.sidebar.caption(ui.t("app_title"))
st.navigation(pages).run()
