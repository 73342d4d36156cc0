DELETE FROM queues WHERE slug = 'mesa-de-ayuda';
DELETE FROM categories;
DELETE FROM departments;
