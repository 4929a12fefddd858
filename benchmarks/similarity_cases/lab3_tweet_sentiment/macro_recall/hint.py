def macro_recall(y_true, y_pred, num_classes=3):
    """Mean over the classes present in y_true of the share of their examples predicted correctly."""
    # TODO: for each class c that occurs in y_true, recall_c = mean(y_pred[y_true == c] == c); return their mean as a float.
    y_true = np.array(y_true)
    y_pred = np.array(y_pred)
    recalls = []
    for c in range(num_classes):
        if (y_true == c).sum() > 0:
            recalls.append(np.mean(y_pred[y_true == c] == c))
    return float(np.mean(recalls))
