DROP TABLE presence_announced;
