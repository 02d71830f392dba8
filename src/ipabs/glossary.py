"""The glossary: canonical term → (中文, English). The only module with Chinese strings in library code.

UI labels, report column headers (``--lang zh``) and the Chinese aliases accepted for tape column headers all
come from here. Add a term here before using it in a label.
"""

from __future__ import annotations

TERMS: dict[str, tuple[str, str]] = {
    # deal and parties
    "special_plan": ("专项计划", "special plan"),
    "originator": ("原始权益人", "originator"),
    "plan_manager": ("计划管理人", "plan manager"),
    "servicer": ("资产服务机构", "servicer"),
    "deal": ("交易", "deal"),
    "market": ("市场", "market"),
    "exchange": ("交易所ABS", "exchange ABS"),
    "interbank": ("银行间ABN", "interbank ABN"),
    # pool
    "pool": ("资产池", "pool"),
    "asset": ("基础资产", "asset"),
    "asset_id": ("资产编号", "asset id"),
    "obligor": ("债务人", "obligor"),
    "obligor_id": ("债务人编号", "obligor id"),
    "obligor_name": ("债务人名称", "obligor name"),
    "industry": ("行业", "industry"),
    "county": ("区县", "county/district"),
    "asset_type": ("资产类型", "asset type"),
    "royalty_licence": ("专利许可费", "royalty / licence fees"),
    "pledge_loan": ("知识产权质押贷款", "IP-pledge loan"),
    "finance_lease": ("知识产权融资租赁", "IP finance lease"),
    "receivable": ("应收账款", "receivable"),
    "principal": ("本金", "principal"),
    "rate": ("利率", "rate"),
    "start_date": ("起始日", "start date"),
    "maturity_date": ("到期日", "maturity date"),
    "payment_frequency": ("付息频率", "payment frequency"),
    "amortization": ("还款方式", "amortization"),
    "bullet": ("到期一次还本付息", "bullet"),
    "interest_only": ("先息后本", "interest-only then bullet"),
    "equal_principal": ("等额本金", "equal principal"),
    "level_payment": ("等额本息", "level payment"),
    "custom": ("自定义还款计划", "custom schedule"),
    "rating": ("信用评级", "rating"),
    "pd": ("违约概率", "default probability"),
    "ip": ("知识产权", "intellectual property"),
    "ip_type": ("知识产权类型", "IP type"),
    "invention_patent": ("发明专利", "invention patent"),
    "utility_model_patent": ("实用新型专利", "utility-model patent"),
    "design_patent": ("外观设计专利", "design patent"),
    "trademark": ("商标", "trademark"),
    "copyright": ("著作权", "copyright"),
    "geographic_indication": ("地理标志", "geographic indication"),
    "data_ip": ("数据知识产权", "data IP"),
    "trade_secret": ("商业秘密", "trade secret"),
    "ip_registration_no": ("登记号", "registration number"),
    "ip_expiry_date": ("权利到期日", "IP expiry date"),
    "appraised_value": ("评估价值", "appraised value"),
    "cnipa_pledge_registered": ("已办理质押登记", "pledge registered with CNIPA"),
    "financing_amount": ("实际融资金额", "financing obtained"),
    # tranches and waterfall
    "tranche": ("证券档次", "tranche"),
    "senior": ("优先级", "senior"),
    "mezzanine": ("中间级", "mezzanine"),
    "subordinate": ("次级", "subordinate"),
    "balance": ("余额", "balance"),
    "original_balance": ("发行规模", "original balance"),
    "coupon": ("票面利率", "coupon"),
    "waterfall": ("现金流分配顺序", "waterfall"),
    "fees": ("税费", "taxes and fees"),
    "reserve_account": ("储备账户", "reserve account"),
    "shortfall_commitment": ("差额支付承诺", "shortfall commitment"),
    "guarantee": ("担保", "guarantee"),
    "support_draw": ("增信支付", "support draw"),
    "residual": ("剩余收益", "residual"),
    "coverage_ratio": ("现金流覆盖倍数", "cash-flow coverage ratio"),
    "cutoff_date": ("初始起算日", "cut-off date"),
    "closing_date": ("设立日", "closing date"),
    "payment_date": ("兑付日", "payment date"),
    "period": ("期数", "period"),
    "expected_maturity": ("预期到期日", "expected maturity"),
    "legal_maturity": ("法定到期日", "legal maturity"),
    "state": ("交易状态", "deal state"),
    "normal": ("正常", "normal"),
    "accelerated": ("加速清偿", "accelerated"),
    "post_default": ("违约事件后", "after an event of default"),
    # cash flow columns
    "interest_due": ("应付利息", "interest due"),
    "interest_paid": ("实付利息", "interest paid"),
    "interest_shortfall": ("利息缺口", "interest shortfall"),
    "principal_paid": ("偿还本金", "principal paid"),
    "balance_end": ("期末余额", "ending balance"),
    "residual_paid": ("剩余收益分配", "residual paid"),
    "loss": ("本金损失", "principal loss"),
    "interest_collected": ("利息回收", "interest collected"),
    "principal_collected": ("本金回收", "principal collected"),
    "prepayment": ("提前还款", "prepayment"),
    "defaults": ("违约金额", "defaults"),
    "recoveries": ("违约回收", "recoveries"),
    "pool_balance": ("资产池余额", "pool balance"),
    "cumulative_default_ratio": ("累计违约率", "cumulative default ratio"),
    "fee_due": ("应付费用", "fee due"),
    "fee_paid": ("实付费用", "fee paid"),
    "account_balance": ("账户余额", "account balance"),
    # analytics
    "wal_years": ("加权平均期限(年)", "WAL (years)"),
    "yield": ("收益率", "yield"),
    "modified_duration": ("修正久期", "modified duration"),
    "macaulay_duration": ("麦考利久期", "Macaulay duration"),
    "principal_window": ("本金偿还窗口", "principal window"),
    "expected_loss": ("预期损失", "expected loss"),
    "default_probability": ("违约概率", "default probability"),
    "standard_error": ("标准误", "standard error"),
    # policy
    "subsidy": ("财政补贴", "subsidy"),
    "budget": ("预算", "budget"),
    "eligibility": ("入池资格", "eligibility"),
}


def label(key: str, lang: str = "en") -> str:
    """The display label of a canonical term (``lang`` is 'zh' or 'en'); the key itself when unknown."""
    pair = TERMS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


#: Chinese tape headers accepted as aliases of the canonical English column names.
TAPE_COLUMN_ALIASES: dict[str, str] = {zh: key for key, (zh, _en) in TERMS.items()} | {
    "资产ID": "asset_id",
    "企业编号": "obligor_id",
    "企业名称": "obligor_name",
    "所属行业": "industry",
    "所在区县": "county",
    "合同金额": "principal",
    "贷款金额": "principal",
    "年利率": "rate",
    "评级": "rating",
    "知识产权登记号": "ip_registration_no",
    "知识产权到期日": "ip_expiry_date",
    "知识产权评估价值": "ip_appraised_value",
    "是否质押登记": "cnipa_pledge_registered",
}
