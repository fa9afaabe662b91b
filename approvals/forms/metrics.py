"""The CoE metrics page's window form."""

from django import forms


class MetricsWindowForm(forms.Form):
    since = forms.DateField(
        required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}), label="From"
    )
    until = forms.DateField(
        required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}), label="To"
    )
