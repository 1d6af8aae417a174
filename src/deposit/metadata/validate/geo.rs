use super::{Check, GeoLocation, MAX_LIST_LEN, MAX_STRING_CHARS};

impl Check {
    fn coord(
        &mut self,
        path: &str,
        label: &str,
        v: Option<f64>,
        limit: f64,
        missing: &str,
    ) -> Option<f64> {
        match v {
            None => {
                self.add(path, missing);
                None
            }
            Some(x) if !x.is_finite() || x < -limit || x > limit => {
                self.add(
                    path,
                    format!("{label} must be between -{limit} and {limit}; got {x}"),
                );
                None
            }
            Some(x) => Some(x),
        }
    }

    pub(super) fn geo(&mut self, geos: &[GeoLocation]) {
        if !self.list_len("geoLocations", "locations", geos.len(), MAX_LIST_LEN) {
            return;
        }
        for (i, g) in geos.iter().enumerate() {
            let p = format!("geoLocations[{i}]");
            let has_place = g
                .geo_location_place
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty());
            self.optional(
                &format!("{p}.geoLocationPlace"),
                "The place name",
                &g.geo_location_place,
                MAX_STRING_CHARS,
            );
            if !has_place && g.geo_location_point.is_none() && g.geo_location_box.is_none() {
                self.add(p.clone(), "Give a place name, a point (latitude and longitude) or a bounding box for this location");
            }
            if let Some(pt) = &g.geo_location_point {
                let pp = format!("{p}.geoLocationPoint");
                self.coord(
                    &format!("{pp}.pointLatitude"),
                    "Latitude",
                    pt.point_latitude,
                    90.0,
                    "Enter the point's latitude",
                );
                self.coord(
                    &format!("{pp}.pointLongitude"),
                    "Longitude",
                    pt.point_longitude,
                    180.0,
                    "Enter the point's longitude",
                );
            }
            if let Some(b) = &g.geo_location_box {
                let bp = format!("{p}.geoLocationBox");
                self.coord(
                    &format!("{bp}.westBoundLongitude"),
                    "West bound longitude",
                    b.west_bound_longitude,
                    180.0,
                    "Enter the box's west bound longitude",
                );
                self.coord(
                    &format!("{bp}.eastBoundLongitude"),
                    "East bound longitude",
                    b.east_bound_longitude,
                    180.0,
                    "Enter the box's east bound longitude",
                );
                let s = self.coord(
                    &format!("{bp}.southBoundLatitude"),
                    "South bound latitude",
                    b.south_bound_latitude,
                    90.0,
                    "Enter the box's south bound latitude",
                );
                let n = self.coord(
                    &format!("{bp}.northBoundLatitude"),
                    "North bound latitude",
                    b.north_bound_latitude,
                    90.0,
                    "Enter the box's north bound latitude",
                );
                if let (Some(s), Some(n)) = (s, n) {
                    if s > n {
                        self.add(
                            format!("{bp}.southBoundLatitude"),
                            format!("The south bound latitude ({s}) is north of the north bound latitude ({n}); swap them"),
                        );
                    }
                }
                // west > east is allowed: the box crosses the antimeridian.
            }
        }
    }
}
