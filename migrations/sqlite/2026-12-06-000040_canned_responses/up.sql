-- Canned responses for the composer: shared ones (no owner; managed by supervisors and admins)
-- and each agent's personal ones. A short name is unique among the shared ones and among each
-- agent's own. Keep in step with migrations/postgres.

CREATE TABLE canned_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shortcut TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category_id BIGINT REFERENCES categories(id),
    owner_id BIGINT REFERENCES agents(id) ON DELETE CASCADE,
    usage_count BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);
CREATE UNIQUE INDEX canned_responses_shared_shortcut ON canned_responses (shortcut) WHERE owner_id IS NULL;
CREATE UNIQUE INDEX canned_responses_personal_shortcut ON canned_responses (owner_id, shortcut)
    WHERE owner_id IS NOT NULL;

-- A useful shared set for ChileCompra's frequent topics, so a fresh install has them. The
-- supervisors edit or delete them like any other shared response.
INSERT INTO canned_responses (shortcut, title, body, category_id) VALUES
('saludo', 'Saludo inicial',
'Estimado(a) {nombre}:

Junto con saludar, le escribimos de la Mesa de Ayuda de ChileCompra por su caso {numero}, «{asunto}».', NULL),
('clave', 'Recuperar la clave de acceso a Mercado Público',
'Estimado(a) {nombre}:

Para recuperar su clave de acceso, ingrese a www.mercadopublico.cl, pulse «¿Olvidó su clave?» e indique su RUT de usuario. Recibirá en su correo registrado un enlace para crear una clave nueva; el enlace vence en pocas horas, así que le recomendamos usarlo de inmediato.

Si ya no tiene acceso a ese correo, respóndanos indicando su RUT y el nombre de su organismo o empresa, y actualizaremos sus datos.

Puede seguir su caso {numero} en {enlace}

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'acceso-clave')),
('usuario-bloqueado', 'Usuario bloqueado por intentos fallidos',
'Estimado(a) {nombre}:

Su usuario quedó bloqueado tras varios intentos fallidos de ingreso. Ya lo desbloqueamos: le sugerimos recuperar su clave con la opción «¿Olvidó su clave?» de www.mercadopublico.cl antes de volver a intentarlo.

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'acceso-clave')),
('registro-proveedores', 'Inscripción en el Registro de Proveedores',
'Estimado(a) {nombre}:

Para inscribirse en el Registro de Proveedores del Estado, ingrese a www.chileproveedores.cl con el usuario de su empresa en Mercado Público, complete la ficha y adjunte los documentos que se solicitan. Una vez revisados, su estado quedará «Hábil» y podrá ser contratado por los organismos públicos.

Si alguna etapa le presenta problemas, respóndanos indicando el RUT de la empresa y en qué paso se encuentra.

Caso {numero}: {enlace}

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'registro-proveedores')),
('ficha-proveedor', 'Actualizar la ficha de proveedor (ChileProveedores)',
'Estimado(a) {nombre}:

Los datos de su empresa (dirección, contactos, rubros, documentos legales) se actualizan en su ficha de proveedor, en www.chileproveedores.cl, opción «Mi ficha». Los documentos vencidos deben reemplazarse para mantener la condición de hábil.

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'registro-proveedores')),
('compra-agil', 'Participar en una Compra Ágil',
'Estimado(a) {nombre}:

Las Compras Ágiles se publican en www.mercadopublico.cl, en la sección «Compra Ágil». Para cotizar, ingrese con su usuario de proveedor, busque la solicitud por su código o por rubro y envíe su cotización antes del cierre indicado. El organismo comprador evalúa las cotizaciones recibidas y emite la orden de compra a la seleccionada.

Caso {numero}: {enlace}

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'compra-agil')),
('orden-de-compra', 'Aceptar o rechazar una orden de compra',
'Estimado(a) {nombre}:

Las órdenes de compra emitidas a su empresa aparecen en www.mercadopublico.cl, en «Órdenes de compra». Ábrala, revise su detalle y pulse «Aceptar» o «Rechazar» (al rechazar debe indicar el motivo). Le recomendamos responder a la brevedad: el organismo puede cancelar una orden que no fue aceptada.

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'ordenes-de-compra')),
('licitaciones', 'Ofertar en una licitación',
'Estimado(a) {nombre}:

Para ofertar en una licitación, ingrese a www.mercadopublico.cl con su usuario de proveedor, busque la licitación por su ID, revise las bases y los anexos, y pulse «Ofertar». Complete las etapas (económica, técnica y administrativa) y envíe su oferta antes de la fecha de cierre: una vez cerrada, el sistema no recibe ofertas.

Las preguntas sobre las bases se hacen en el foro de la licitación, dentro del plazo que indica su cronograma.

Caso {numero}: {enlace}

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'licitaciones')),
('convenio-marco', 'Comprar en Convenio Marco',
'Estimado(a) {nombre}:

Los productos y servicios de Convenio Marco se compran en la tienda de Mercado Público: busque el producto, compare las ofertas de los proveedores adjudicados, agréguelo al carro y genere la orden de compra. Si el producto que necesita no está en el catálogo, puede usar otro procedimiento de compra según la normativa.

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'convenio-marco')),
('capacitacion', 'Cursos y capacitación',
'Estimado(a) {nombre}:

ChileCompra ofrece cursos gratuitos para compradores y proveedores, en línea y presenciales. Encontrará el calendario, los contenidos y la inscripción en capacitacion.chilecompra.cl.

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'capacitacion')),
('reclamo', 'Reclamo recibido',
'Estimado(a) {nombre}:

Recibimos su reclamo, registrado con el número {numero}. Lo derivamos al área que corresponde y le informaremos la respuesta por este mismo medio. Puede seguir su estado en {enlace}

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', (SELECT id FROM categories WHERE slug = 'reclamos')),
('cierre', 'Cierre del caso',
'Estimado(a) {nombre}:

Damos por resuelto su caso {numero}. Si la solución no le resultó o tiene otra consulta, basta con responder este correo y el caso se reabrirá.

Saluda atentamente,
{agente}
Mesa de Ayuda ChileCompra', NULL);
