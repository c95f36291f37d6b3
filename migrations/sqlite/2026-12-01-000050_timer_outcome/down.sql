ALTER TABLE conversations DROP COLUMN outcome;
