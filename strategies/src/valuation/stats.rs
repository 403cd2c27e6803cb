//! Weighted robust statistics over a small sample sorted by value.

/// One observation: a value (a log price), its weight (> 0), and whether it is a sold price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub x: f64,
    pub w: f64,
    pub sold: bool,
}

/// A sample sorted by `x`, every weight positive and finite.
pub(crate) struct Sample {
    points: Vec<Point>,
    total: f64,
}

impl Sample {
    /// Sorts `points` (dropping non-finite values and non-positive weights).
    pub fn new(mut points: Vec<Point>) -> Sample {
        points.retain(|p| p.x.is_finite() && p.w.is_finite() && p.w > 0.0);
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        let total = points.iter().map(|p| p.w).sum();
        Sample { points, total }
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Kish's effective sample size: (Σw)² / Σw².
    pub fn effective_size(&self) -> f64 {
        let squares: f64 = self.points.iter().map(|p| p.w * p.w).sum();
        if squares <= 0.0 {
            return 0.0;
        }
        self.total * self.total / squares
    }

    /// The weighted quantile `q` (0..=1): each point sits at the middle of its share of the
    /// weight, linear in between, flat beyond the ends. Equal weights give the usual median.
    pub fn quantile(&self, q: f64) -> f64 {
        let Some(first) = self.points.first() else {
            return f64::NAN;
        };
        let target = q.clamp(0.0, 1.0) * self.total;
        let mut cumulative = 0.0;
        let mut previous = (first.x, first.w / 2.0);
        for (i, point) in self.points.iter().enumerate() {
            let position = cumulative + point.w / 2.0;
            if target <= position {
                if i == 0 {
                    return point.x;
                }
                let (px, pp) = previous;
                let span = position - pp;
                if span <= 0.0 {
                    return point.x;
                }
                return px + (point.x - px) * (target - pp) / span;
            }
            previous = (point.x, position);
            cumulative += point.w;
        }
        self.points.last().map_or(f64::NAN, |p| p.x)
    }

    /// The weighted median.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// The weighted mean of the mass between `trim` and `1 − trim` (each point covering its
    /// share of the weight); the median when `trim` leaves nothing.
    pub fn trimmed_mean(&self, trim: f64) -> f64 {
        if !(0.0..0.5).contains(&trim) {
            return self.median();
        }
        let low = trim * self.total;
        let high = (1.0 - trim) * self.total;
        let mut cumulative = 0.0;
        let mut sum = 0.0;
        let mut mass = 0.0;
        for point in &self.points {
            let start = cumulative;
            let end = cumulative + point.w;
            cumulative = end;
            let overlap = end.min(high) - start.max(low);
            if overlap > 0.0 {
                sum += point.x * overlap;
                mass += overlap;
            }
        }
        if mass <= 0.0 {
            return self.median();
        }
        sum / mass
    }

    /// The weighted median absolute deviation from `center`.
    pub fn mad(&self, center: f64) -> f64 {
        let deviations = self
            .points
            .iter()
            .map(|p| Point {
                x: (p.x - center).abs(),
                ..*p
            })
            .collect();
        Sample::new(deviations).median()
    }

    /// The points within `limit` of `center`, and how many were dropped.
    pub fn within(self, center: f64, limit: f64) -> (Sample, usize) {
        let before = self.points.len();
        let kept: Vec<Point> = self
            .points
            .into_iter()
            .filter(|p| (p.x - center).abs() <= limit)
            .collect();
        let dropped = before - kept.len();
        (Sample::new(kept), dropped)
    }

    /// The share of the weight on sold prices.
    pub fn sold_share(&self) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let sold: f64 = self.points.iter().filter(|p| p.sold).map(|p| p.w).sum();
        sold / self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[(f64, f64)]) -> Sample {
        Sample::new(
            values
                .iter()
                .map(|&(x, w)| Point { x, w, sold: false })
                .collect(),
        )
    }

    #[test]
    fn equal_weights_give_the_usual_median() {
        assert_eq!(sample(&[(3.0, 1.0), (1.0, 1.0), (2.0, 1.0)]).median(), 2.0);
        assert_eq!(
            sample(&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0)]).median(),
            2.5
        );
        assert_eq!(sample(&[(7.0, 2.0)]).median(), 7.0);
    }

    #[test]
    fn heavier_points_pull_the_median() {
        let m = sample(&[(1.0, 1.0), (2.0, 1.0), (10.0, 6.0)]).median();
        assert!(m > 2.0, "{m}");
    }

    #[test]
    fn trimmed_mean_ignores_the_tails() {
        let s = sample(&[(1.0, 1.0), (2.0, 1.0), (2.0, 1.0), (2.0, 1.0), (100.0, 1.0)]);
        assert_eq!(s.trimmed_mean(0.2), 2.0);
        assert!(s.effective_size() > 4.99);
    }

    #[test]
    fn empty_samples_are_nan() {
        assert!(sample(&[]).median().is_nan());
        assert!(sample(&[(f64::NAN, 1.0), (1.0, 0.0)]).is_empty());
    }
}
