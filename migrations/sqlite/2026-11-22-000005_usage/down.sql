DROP TABLE usage_salts;
DROP TABLE usage_visits;
DROP TABLE usage_counts;
