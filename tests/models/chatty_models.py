"""A team's own estimator, as tests use it: one that takes **kwargs and prints."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class Chatty(ClassifierMixin, BaseEstimator):
    """Takes **kwargs for its booster, as XGBoost and LightGBM do, and prints as they do."""

    def __init__(self, C=1.0, **kwargs):
        self.C = C
        self.kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_params(self, deep=True):
        return {"C": self.C, **self.kwargs}

    def fit(self, X, y):
        print("[Chatty] [Info] Number of positive:", int((y == y.iloc[0]).sum()))
        self.inner_ = LogisticRegression(C=self.C, max_iter=500).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X):
        print("[Chatty] [Warning] predicting")
        return self.inner_.predict(X)

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)
