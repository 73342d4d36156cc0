-- Reference data every installation needs: the departments of the División de Gestión Usuaria,
-- ChileCompra's support topics and the default queue for new contacts.
INSERT INTO departments (slug, name, email) VALUES
    ('atencion-usuaria', 'Departamento de Atención Usuaria', NULL),
    ('compradores', 'Departamento de Gestión y Asesoría de Compradores', NULL),
    ('proveedores', 'Departamento de Gestión y Participación de Proveedores', NULL),
    ('diseno-servicios', 'Departamento de Diseño de Servicios y Experiencia Usuaria', NULL),
    ('formacion', 'Departamento de Formación y Capacitación Usuaria', NULL);

INSERT INTO categories (slug, name) VALUES
    ('acceso-clave', 'Acceso, clave y usuarios'),
    ('registro-proveedores', 'Registro de Proveedores y acreditación'),
    ('compra-agil', 'Compra Ágil'),
    ('convenio-marco', 'Convenio Marco'),
    ('licitaciones', 'Licitaciones'),
    ('ordenes-de-compra', 'Órdenes de compra y recepción'),
    ('pagos', 'Pagos'),
    ('normativa', 'Normativa y probidad'),
    ('capacitacion', 'Capacitación'),
    ('datos-abiertos', 'Datos abiertos'),
    ('reclamos', 'Reclamos'),
    ('sugerencias', 'Sugerencias');

INSERT INTO queues (slug, name, description, department_id)
SELECT 'mesa-de-ayuda', 'Mesa de Ayuda', 'Cola de entrada de todos los canales', id
FROM departments WHERE slug = 'atencion-usuaria';
