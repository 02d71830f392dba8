"""ipabs web app: navigation over the page scripts in apps/pages/ and the language switch (中文 default, English).

Run with ``make app`` (``streamlit run apps/streamlit_app.py``). The pages hold UI only; the numerics are in ipabs.
"""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the pages import ui_common / ui_runs from apps/

import ui_common as ui  # noqa: E402

st.set_page_config(page_title="ipabs", page_icon=":material/account_balance:", layout="wide")
st.sidebar.radio("语言 / Language", ui.LANGS, index=0, key="lang", horizontal=True,
                 format_func=lambda code: {"zh": "中文", "en": "English"}[code])  # 中文 by default

pages = {
    ui.t("nav_structuring"): [
        st.Page("pages/deal.py", title=ui.t("page_deal"), icon=":material/account_tree:", url_path="deal",
                default=True),
        st.Page("pages/compare.py", title=ui.t("page_compare"), icon=":material/compare:", url_path="compare"),
        # Tranche sizing and stress grids follow the same pattern when the library has them:
        #   st.Page("pages/tranche_sizing.py", title=ui.t("page_tranche_sizing"), url_path="tranche-sizing"),
        #   st.Page("pages/stress_grid.py", title=ui.t("page_stress_grid"), url_path="stress-grid"),
    ],
    ui.t("nav_policy"): [
        st.Page("pages/eligibility.py", title=ui.t("page_eligibility"), icon=":material/fact_check:",
                url_path="eligibility"),
        st.Page("pages/budget.py", title=ui.t("page_budget"), icon=":material/savings:", url_path="budget"),
        st.Page("pages/fund.py", title=ui.t("page_fund"), icon=":material/shield:", url_path="fund"),
    ],
}
ui.cluster_setting()
st.sidebar.caption(ui.t("app_title"))
st.navigation(pages).run()
