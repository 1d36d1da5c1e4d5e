"""xlform: 财政项目支出绩效目标申报表 workbooks — generate, collect, check, summarise."""

__version__ = "0.1.0"
