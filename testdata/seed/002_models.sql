-- Seed models: every source (upload, import, builtin), labels in output order, and
-- supported_chips that include the target chip.
insert into models (id, owner_id, name, target_chip, source, faa_object_key, labels, supported_chips,
                    created_at, updated_at, deleted_at)
values
    -- Alice's first person detector, replaced by deleting it and uploading again: the deleted row
    -- keeps its history and frees the name for the live one below (models_owner_id_name_live_key
    -- covers live rows only).
    ('b0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001',
     'person-detector', 'hailo8', 'upload',
     'models/a0000000-0000-4000-8000-000000000001/b0000000-0000-4000-8000-000000000001.faa',
     '{person}', '{hailo8}',
     '2024-01-16 10:00:00+00', '2024-01-16 10:00:00+00', '2024-02-28 16:20:00+00'),
    ('b0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
     'person-detector', 'hailo8', 'upload',
     'models/a0000000-0000-4000-8000-000000000001/b0000000-0000-4000-8000-000000000002.faa',
     '{person}', '{hailo8,hailo8l}',
     '2024-02-28 16:25:00+00', '2024-03-04 09:10:00+00', null),
    ('b0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000001',
     'ppe-detector', 'hailo8', 'import',
     'models/a0000000-0000-4000-8000-000000000001/b0000000-0000-4000-8000-000000000003.faa',
     '{helmet,no-helmet,vest,no-vest}', '{hailo8}',
     '2024-03-01 13:00:00+00', '2024-03-01 13:00:00+00', null),
    -- Shipped with visionA.
    ('b0000000-0000-4000-8000-000000000004', 'a0000000-0000-4000-8000-000000000002',
     'yolov8n-coco', 'rk3588', 'builtin',
     'models/builtin/yolov8n-coco-rk3588.faa',
     '{person,bicycle,car,motorcycle,bus,truck,dog,cat}', '{rk3588,rk3568}',
     '2024-01-20 14:05:00+00', '2024-01-20 14:05:00+00', null),
    ('b0000000-0000-4000-8000-000000000005', 'a0000000-0000-4000-8000-000000000002',
     'License Plate Reader', 'jetson-orin-nano', 'upload',
     'models/a0000000-0000-4000-8000-000000000002/b0000000-0000-4000-8000-000000000005.faa',
     '{plate}', '{jetson-orin-nano,jetson-orin-nx}',
     '2024-03-02 08:30:00+00', '2024-03-02 08:30:00+00', null);

-- A model imported before its labels and chips were known: the arrays take their default ('{}'),
-- never NULL.
insert into models (id, owner_id, name, target_chip, source, faa_object_key, created_at, updated_at)
values
    ('b0000000-0000-4000-8000-000000000006', 'a0000000-0000-4000-8000-000000000003',
     'anomaly-detector', 'hailo8l', 'import',
     'models/a0000000-0000-4000-8000-000000000003/b0000000-0000-4000-8000-000000000006.faa',
     '2024-02-06 09:00:00+00', '2024-02-06 09:00:00+00');
