"""Altair chart builders: pure functions from arrays to ``alt.Chart``, unit-tested on their
encodings and data. No Streamlit here; pages pass the result to ``st.altair_chart``.

Modules: ``style`` (palette, type sizes), ``policy`` (heatmap, traces), ``theorem`` (the
numerical checks of the derivation).
"""
