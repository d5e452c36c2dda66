"""The review form shared by the entry page and the admin review page."""

from django import forms

from enhancelog.models import Review


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=Review.DECISION_CHOICES, widget=forms.RadioSelect)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000)
