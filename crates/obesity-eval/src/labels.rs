//! What the metrics accept as class labels: a slice, a `Vec`, an array, or an ndarray
//! vector such as [`Dataset::y`](obesity_features::Dataset) and its views, so that
//! `accuracy(&data.y, &predicted)` works without `.to_vec()` or `.as_slice().unwrap()`.

use std::borrow::Cow;

use ndarray::{ArrayBase, Data, Ix1};

/// Class indices in `0..n_classes`, one per row, in any of the usual containers.
///
/// ```
/// use obesity_eval::{accuracy, ndarray::array};
///
/// let y_true = array![0usize, 1, 2, 2];
/// let y_pred = vec![0usize, 1, 1, 2];
/// assert_eq!(accuracy(&y_true, &y_pred)?, 0.75);
/// assert_eq!(accuracy(&y_true.view(), &[0usize, 1, 2, 2])?, 1.0);
/// # Ok::<(), obesity_eval::EvalError>(())
/// ```
pub trait Labels {
    /// The labels as one contiguous slice, borrowed when the container already is one.
    fn as_labels(&self) -> Cow<'_, [usize]>;
}

impl Labels for [usize] {
    fn as_labels(&self) -> Cow<'_, [usize]> {
        Cow::Borrowed(self)
    }
}

impl Labels for Vec<usize> {
    fn as_labels(&self) -> Cow<'_, [usize]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> Labels for [usize; N] {
    fn as_labels(&self) -> Cow<'_, [usize]> {
        Cow::Borrowed(self)
    }
}

impl<S: Data<Elem = usize>> Labels for ArrayBase<S, Ix1> {
    fn as_labels(&self) -> Cow<'_, [usize]> {
        match self.as_slice() {
            Some(s) => Cow::Borrowed(s),
            // A strided view (every other row, a reversed axis) is copied once.
            None => Cow::Owned(self.iter().copied().collect()),
        }
    }
}

impl<T: Labels + ?Sized> Labels for &T {
    fn as_labels(&self) -> Cow<'_, [usize]> {
        (**self).as_labels()
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Axis, Slice};

    use crate::{ClassificationReport, ZeroDivision, accuracy, balanced_accuracy};

    #[test]
    fn every_container_gives_the_same_score_as_the_slice() {
        let y_true: Array1<usize> = Array1::from(vec![0, 1, 2, 2, 1, 0, 2, 1]);
        let y_pred: Vec<usize> = vec![0, 1, 1, 2, 1, 2, 2, 0];
        let want = accuracy(y_true.as_slice().expect("contiguous"), &y_pred[..]).expect("acc");
        assert_eq!(accuracy(&y_true, &y_pred).expect("array"), want);
        assert_eq!(accuracy(&y_true.view(), &y_pred).expect("view"), want);
        // A strided view (every other row) is not a slice: it is copied, not refused.
        let strided = y_true.slice_axis(Axis(0), Slice::new(0, None, 2));
        assert!(strided.as_slice().is_none());
        let every_other: Vec<usize> = y_pred.iter().step_by(2).copied().collect();
        let want2 = accuracy(&[0usize, 2, 1, 2], &every_other).expect("slice");
        assert_eq!(accuracy(&strided, &every_other).expect("strided"), want2);
        assert_eq!(
            balanced_accuracy(&y_true, &y_pred, 3).expect("array"),
            balanced_accuracy(&y_true.to_vec(), &y_pred, 3).expect("vec")
        );
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let report = ClassificationReport::new(&y_true, &y_pred, &names, ZeroDivision::Zero)
            .expect("report");
        assert_eq!(report.accuracy, want);
    }

    #[test]
    fn a_length_mismatch_is_still_an_error_through_any_container() {
        let y_true: Array1<usize> = Array1::from(vec![0, 1, 2]);
        assert!(accuracy(&y_true, &[0usize, 1]).is_err());
    }
}
