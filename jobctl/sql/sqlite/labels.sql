-- Job labels (migration 11, jobctl/labels.py).  :labels is a JSON array of
-- distinct labels (labels.check folds duplicates): a job "has them all" when
-- it has as many of them as there are.

-- name: insert_labels
-- Each of :labels on each of :ids (JSON arrays): one statement for a batch.
INSERT OR IGNORE INTO job_labels (label, job_id)
SELECT l.value, i.value FROM json_each(:ids) AS i, json_each(:labels) AS l;

-- name: labels_of
SELECT label FROM job_labels INDEXED BY job_labels_job WHERE job_id = :id ORDER BY label;

-- name: labels_of_ids
-- A listing's page: the labels of :ids (a JSON array).
SELECT job_id, label FROM job_labels INDEXED BY job_labels_job
WHERE job_id IN (SELECT value FROM json_each(:ids)) ORDER BY job_id, label;

-- name: labelled_ids
-- `cancel --label`, `retry --failed --label`: the jobs in :states that have
-- every one of :labels, by id.
SELECT id FROM jobs
WHERE state IN (SELECT value FROM json_each(:states))
  AND id IN (SELECT job_id FROM job_labels WHERE label IN (SELECT value FROM json_each(:labels))
             GROUP BY job_id HAVING count(*) = json_array_length(:labels))
ORDER BY id;

-- name: purge_select_labels
-- purge_select, of the jobs with every one of :labels (and of the types the
-- globs in :types match, unless :types is null).
INSERT INTO temp.purge_ids (id)
SELECT id FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
  AND (:types IS NULL OR jobctl_type_glob(type, :types))
  AND id IN (SELECT job_id FROM job_labels WHERE label IN (SELECT value FROM json_each(:labels))
             GROUP BY job_id HAVING count(*) = json_array_length(:labels))
ORDER BY id LIMIT :limit;

-- name: purge_count_labels
-- purge_count, of the jobs purge_select_labels takes.
SELECT state, count(*) FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
  AND (:types IS NULL OR jobctl_type_glob(type, :types))
  AND id IN (SELECT job_id FROM job_labels WHERE label IN (SELECT value FROM json_each(:labels))
             GROUP BY job_id HAVING count(*) = json_array_length(:labels))
GROUP BY state ORDER BY state;

-- name: dump_labels
SELECT job_id, label FROM job_labels INDEXED BY job_labels_job
WHERE job_id BETWEEN :lo AND :hi ORDER BY job_id, label;

-- name: load_label
INSERT INTO job_labels (label, job_id) VALUES (:label, :job_id) ON CONFLICT DO NOTHING;
