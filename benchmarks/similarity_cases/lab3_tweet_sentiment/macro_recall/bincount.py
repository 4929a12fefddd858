def macro_recall(y_true, y_pred, num_classes=3):
    """Mean over the classes present in y_true of the share of their examples predicted correctly."""
    # TODO: for each class c that occurs in y_true, recall_c = mean(y_pred[y_true == c] == c); return their mean as a float.
    y_true = np.asarray(y_true).astype(int)
    y_pred = np.asarray(y_pred).astype(int)
    correct = np.bincount(y_true[y_true == y_pred], minlength=num_classes)
    support = np.bincount(y_true, minlength=num_classes)
    mask = support > 0
    return float((correct[mask] / support[mask]).mean())
