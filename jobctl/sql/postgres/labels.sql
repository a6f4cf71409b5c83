-- Job labels (migration 2, jobctl/labels.py), as sql/sqlite/labels.sql.
-- :labels is a JSON array of distinct labels: a job "has them all" when it
-- has as many of them as there are.

-- name: insert_labels
INSERT INTO job_labels (label, job_id)
SELECT l, CAST(i AS bigint)
FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS i,
     jsonb_array_elements_text(CAST(:labels AS jsonb)) AS l
ON CONFLICT DO NOTHING;

-- name: labels_of
SELECT label FROM job_labels WHERE job_id = :id ORDER BY label;

-- name: labels_of_ids
SELECT job_id, label FROM job_labels
WHERE job_id IN (SELECT CAST(jsonb_array_elements_text(CAST(:ids AS jsonb)) AS bigint))
ORDER BY job_id, label;

-- name: labelled_ids
SELECT id FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND id IN (SELECT job_id FROM job_labels
             WHERE label IN (SELECT jsonb_array_elements_text(CAST(:labels AS jsonb)))
             GROUP BY job_id HAVING count(*) = jsonb_array_length(CAST(:labels AS jsonb)))
ORDER BY id;

-- name: purge_select_labels
-- Locked as purge_select is.
INSERT INTO pg_temp.purge_ids (id)
SELECT id FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
  AND (CAST(:types AS text) IS NULL OR jobctl_type_glob(type, CAST(:types AS text)) != 0)
  AND id IN (SELECT job_id FROM job_labels
             WHERE label IN (SELECT jsonb_array_elements_text(CAST(:labels AS jsonb)))
             GROUP BY job_id HAVING count(*) = jsonb_array_length(CAST(:labels AS jsonb)))
ORDER BY id LIMIT :limit FOR UPDATE;

-- name: purge_count_labels
SELECT state, count(*) FROM jobs
WHERE state IN (SELECT jsonb_array_elements_text(CAST(:states AS jsonb)))
  AND finished_at < :cutoff
  AND id < (SELECT max(id) FROM jobs)
  AND (CAST(:types AS text) IS NULL OR jobctl_type_glob(type, CAST(:types AS text)) != 0)
  AND id IN (SELECT job_id FROM job_labels
             WHERE label IN (SELECT jsonb_array_elements_text(CAST(:labels AS jsonb)))
             GROUP BY job_id HAVING count(*) = jsonb_array_length(CAST(:labels AS jsonb)))
GROUP BY state ORDER BY state;

-- name: dump_labels
SELECT job_id, label FROM job_labels WHERE job_id BETWEEN :lo AND :hi ORDER BY job_id, label;

-- name: load_label
INSERT INTO job_labels (label, job_id) VALUES (:label, :job_id) ON CONFLICT DO NOTHING;
