/**
 * Every user-visible string of the dashboard, in English and Russian. `en` defines the key set;
 * `ru` is typed against it so a missing or extra key breaks the build (and a unit test checks
 * the same at run time). Placeholders are `{name}`, filled by `translate`.
 */

export const en = {
  'app.name': 'Expressionist',
  'app.skip': 'Skip to content',

  'nav.label': 'Main navigation',
  'nav.expressions': 'Expressions',
  'nav.agents': 'Agents',
  'nav.settings': 'Settings',

  'theme.toLight': 'Switch to light theme',
  'theme.toDark': 'Switch to dark theme',
  'lang.label': 'Language',

  'conn.connected': 'Live',
  'conn.connecting': 'Connecting…',
  'conn.disconnected': 'Offline',
  'conn.banner': 'Connection lost — reconnecting…',
  'conn.title': 'Live updates: {state}',

  'agent.become': 'Become an agent',
  'agent.stop': 'Stop being an agent',
  'agent.concurrency': 'Parallel tasks',
  'agent.summary': 'Agent: {running} running · {done} done',
  'agent.panelTitle': 'This tab is an agent',
  'agent.panelToggle': 'Show what this tab is computing',
  'agent.connecting': 'Connecting to the orchestrator…',
  'agent.connected': 'Connected as {name}',
  'agent.disconnected': 'Disconnected — reconnecting…',
  'agent.idle': 'Idle — waiting for tasks.',
  'agent.runningOps': 'Running operations',
  'agent.attempt': 'attempt {n}',
  'agent.quarantined': 'The orchestrator quarantined this agent: {reason}',
  'agent.error': 'Agent error: {message}',
  'agent.settings': 'Operation times: + {add} · − {sub} · × {mul} · ÷ {div} ms',
  'agent.unsupported': 'This browser cannot run module Web Workers.',

  'status.pending': 'Pending',
  'status.in_progress': 'In progress',
  'status.done': 'Done',
  'status.error': 'Error',
  'status.canceled': 'Canceled',

  'home.title': 'Expressions',
  'home.lead': 'Submit an expression; agents compute its operations in parallel.',
  'home.inputLabel': 'Expression',
  'home.placeholder': 'e.g. (2 + 3) * 4 - 10 / 4',
  'home.submit': 'Calculate',
  'home.submitting': 'Sending…',
  'home.hint': 'Enter submits. + − * / and parentheses; results are exact decimals.',
  'home.emptyTitle': 'Nothing calculated yet',
  'home.empty': 'Type an expression above — for example 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8.',
  'home.loadMore': 'Load older expressions',
  'home.loadingMore': 'Loading…',
  'home.noMore': 'That is all — there are no older expressions.',
  'home.shown': '{n} shown',
  'home.listTitle': 'Recent expressions',
  'home.listLabel': 'Submitted expressions, newest first',

  'expr.submitted': 'Submitted',
  'expr.started': 'Started',
  'expr.finished': 'Finished',
  'expr.cached': 'cached',
  'expr.cachedHint': 'Answered at once from the result cache',
  'expr.eta': 'ETA {time}',
  'expr.etaLeft': '≈ {duration} left',
  'expr.etaOverdue': 'any moment now',
  'expr.progress': '{done} of {total} operations',
  'expr.progressLabel': 'Progress',
  'expr.cancel': 'Cancel',
  'expr.canceling': 'Canceling…',
  'expr.cancelLabel': 'Cancel {expression}',
  'expr.canceledToast': 'Canceled.',
  'expr.open': 'Details of {expression}',

  'detail.back': 'All expressions',
  'detail.title': 'Expression {id}',
  'detail.loading': 'Loading…',
  'detail.notFound': 'There is no expression with this id.',
  'detail.graph': 'Operation graph',
  'detail.graphLabel': 'Operation graph: leaves at the bottom, the result at the top',
  'detail.viewGraph': 'Graph',
  'detail.viewTable': 'Table',
  'detail.viewLabel': 'How to show the operations',
  'detail.compact':
    'Large expression ({n} operations): compact view without labels. Hover a node for its details, or use the table.',
  'detail.noOps': 'This expression is a single number: there is nothing to compute.',
  'detail.cachedNote': 'Answered from the result cache: these operations were not computed again.',
  'detail.reassignedLegend': 'Reassigned',
  'detail.showMore': 'Show {n} more',
  'detail.opsSummary': 'Operations by state',
  'detail.col.id': '#',
  'detail.col.operation': 'Operation',
  'detail.col.result': 'Result',
  'detail.col.state': 'State',
  'detail.col.agent': 'Agent',
  'detail.col.attempt': 'Attempt',
  'detail.node.agent': 'Agent: {agent}',
  'detail.node.attempt': 'Attempt {n}',
  'detail.node.reassigned': 'Taken back from an agent {n} times',

  'op.waiting': 'Waiting',
  'op.ready': 'Ready',
  'op.running': 'Running',
  'op.done': 'Done',
  'op.failed': 'Failed',
  'op.canceled': 'Canceled',

  'agents.title': 'Agents',
  'agents.lead':
    'Node processes and browser tabs that compute operations. Lost agents fade, then disappear.',
  'agents.emptyTitle': 'No agents',
  'agents.empty':
    'Start one with “npm run agent”, or press “Become an agent” at the top of the page.',
  'agents.tableLabel': 'Connected agents',
  'agents.col.name': 'Name',
  'agents.col.kind': 'Kind',
  'agents.col.status': 'Status',
  'agents.col.concurrency': 'Slots',
  'agents.col.running': 'Running',
  'agents.col.completed': 'Completed',
  'agents.col.lastSeen': 'Last seen',
  'agents.thisTab': 'this tab',
  'agents.expires': 'removed {time}',
  'agents.throughput': 'Throughput, last 60 s',
  'agents.opsPerSecond': '{n} ops/s',
  'agents.peak': 'peak {n}',
  'agents.queue': 'ready queue {n}',
  'agents.runningTotal': 'running {n}',
  'agents.total': 'Total',

  'agentStatus.active': 'Active',
  'agentStatus.draining': 'Draining',
  'agentStatus.lost': 'Lost',
  'agentStatus.quarantined': 'Quarantined',
  'agentKind.node': 'Node',
  'agentKind.browser': 'Browser',
  'agentKind.http': 'HTTP',

  'settings.title': 'Settings',
  'settings.lead':
    'Each operation takes this long on an agent, to model expensive work. Changes reach every agent at once and apply to tasks handed out from then on.',
  'settings.durations': 'Operation times',
  'settings.agents': 'Agents',
  'settings.additionMs': 'Addition (+)',
  'settings.subtractionMs': 'Subtraction (−)',
  'settings.multiplicationMs': 'Multiplication (×)',
  'settings.divisionMs': 'Division (÷)',
  'settings.lostAgentRetentionMs': 'Keep lost agents listed for',
  'settings.ms': 'ms',
  'settings.save': 'Save',
  'settings.saving': 'Saving…',
  'settings.saved': 'Settings saved.',
  'settings.revert': 'Revert',
  'settings.invalidInt': 'Enter a whole number of milliseconds.',
  'settings.range': 'Must be between {min} and {max}.',
  'settings.changedElsewhere': 'Changed elsewhere to {value} ms — saving keeps yours.',
  'settings.loading': 'Loading settings…',
  'settings.fixErrors': 'Fix the highlighted fields first.',
  'settings.nothingToSave': 'Nothing changed.',
  'settings.equals': '= {duration}',

  'error.generic': 'Something went wrong: {message}',
  'error.network': 'Cannot reach the orchestrator.',
  'error.pageTitle': 'Page not found',
  'error.pageText': 'There is nothing at this address.',
  'error.backHome': 'Back to expressions',

  'unit.ms': 'ms',
  'unit.s': 's',
  'unit.min': 'min',
  'unit.h': 'h',

  'common.dismiss': 'Dismiss',
} as const;

/** A translation key. */
export type MessageKey = keyof typeof en;

export const ru: Record<MessageKey, string> = {
  'app.name': 'Expressionist',
  'app.skip': 'К содержимому',

  'nav.label': 'Основная навигация',
  'nav.expressions': 'Выражения',
  'nav.agents': 'Агенты',
  'nav.settings': 'Настройки',

  'theme.toLight': 'Светлая тема',
  'theme.toDark': 'Тёмная тема',
  'lang.label': 'Язык',

  'conn.connected': 'В сети',
  'conn.connecting': 'Подключение…',
  'conn.disconnected': 'Нет связи',
  'conn.banner': 'Соединение потеряно — переподключаемся…',
  'conn.title': 'Обновления в реальном времени: {state}',

  'agent.become': 'Стать агентом',
  'agent.stop': 'Перестать быть агентом',
  'agent.concurrency': 'Параллельных задач',
  'agent.summary': 'Агент: в работе {running} · готово {done}',
  'agent.panelTitle': 'Эта вкладка — агент',
  'agent.panelToggle': 'Показать, что вычисляет вкладка',
  'agent.connecting': 'Подключение к оркестратору…',
  'agent.connected': 'Подключён как {name}',
  'agent.disconnected': 'Отключён — переподключаемся…',
  'agent.idle': 'Ожидает задач.',
  'agent.runningOps': 'Выполняемые операции',
  'agent.attempt': 'попытка {n}',
  'agent.quarantined': 'Оркестратор поместил агента в карантин: {reason}',
  'agent.error': 'Ошибка агента: {message}',
  'agent.settings': 'Время операций: + {add} · − {sub} · × {mul} · ÷ {div} мс',
  'agent.unsupported': 'Этот браузер не умеет запускать модульные Web Worker.',

  'status.pending': 'В очереди',
  'status.in_progress': 'Вычисляется',
  'status.done': 'Готово',
  'status.error': 'Ошибка',
  'status.canceled': 'Отменено',

  'home.title': 'Выражения',
  'home.lead': 'Отправьте выражение — агенты вычислят его операции параллельно.',
  'home.inputLabel': 'Выражение',
  'home.placeholder': 'например, (2 + 3) * 4 - 10 / 4',
  'home.submit': 'Вычислить',
  'home.submitting': 'Отправка…',
  'home.hint': 'Enter — отправить. + − * / и скобки; результат — точная десятичная дробь.',
  'home.emptyTitle': 'Пока ничего не вычислено',
  'home.empty': 'Введите выражение выше — например, 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8.',
  'home.loadMore': 'Загрузить более ранние',
  'home.loadingMore': 'Загрузка…',
  'home.noMore': 'Это всё — более ранних выражений нет.',
  'home.shown': 'показано: {n}',
  'home.listTitle': 'Недавние выражения',
  'home.listLabel': 'Отправленные выражения, новые сверху',

  'expr.submitted': 'Отправлено',
  'expr.started': 'Начато',
  'expr.finished': 'Завершено',
  'expr.cached': 'из кэша',
  'expr.cachedHint': 'Ответ сразу из кэша результатов',
  'expr.eta': 'Готово к {time}',
  'expr.etaLeft': 'осталось ≈ {duration}',
  'expr.etaOverdue': 'вот-вот',
  'expr.progress': '{done} из {total} операций',
  'expr.progressLabel': 'Прогресс',
  'expr.cancel': 'Отменить',
  'expr.canceling': 'Отмена…',
  'expr.cancelLabel': 'Отменить {expression}',
  'expr.canceledToast': 'Отменено.',
  'expr.open': 'Подробности: {expression}',

  'detail.back': 'Все выражения',
  'detail.title': 'Выражение {id}',
  'detail.loading': 'Загрузка…',
  'detail.notFound': 'Выражения с таким id нет.',
  'detail.graph': 'Граф операций',
  'detail.graphLabel': 'Граф операций: листья внизу, результат наверху',
  'detail.viewGraph': 'Граф',
  'detail.viewTable': 'Таблица',
  'detail.viewLabel': 'Как показать операции',
  'detail.compact':
    'Большое выражение ({n} операций): компактный вид без подписей. Наведите на узел, чтобы увидеть подробности, или откройте таблицу.',
  'detail.noOps': 'Это выражение — одно число: вычислять нечего.',
  'detail.cachedNote': 'Ответ взят из кэша результатов: эти операции заново не вычислялись.',
  'detail.reassignedLegend': 'Переназначено',
  'detail.showMore': 'Показать ещё {n}',
  'detail.opsSummary': 'Операции по состояниям',
  'detail.col.id': '№',
  'detail.col.operation': 'Операция',
  'detail.col.result': 'Результат',
  'detail.col.state': 'Состояние',
  'detail.col.agent': 'Агент',
  'detail.col.attempt': 'Попытка',
  'detail.node.agent': 'Агент: {agent}',
  'detail.node.attempt': 'Попытка {n}',
  'detail.node.reassigned': 'Отобрано у агента раз: {n}',

  'op.waiting': 'Ждёт',
  'op.ready': 'Готова к запуску',
  'op.running': 'Выполняется',
  'op.done': 'Готово',
  'op.failed': 'Сбой',
  'op.canceled': 'Отменена',

  'agents.title': 'Агенты',
  'agents.lead':
    'Процессы Node и вкладки браузера, вычисляющие операции. Потерянные агенты бледнеют, а потом исчезают.',
  'agents.emptyTitle': 'Агентов нет',
  'agents.empty':
    'Запустите агента командой «npm run agent» или нажмите «Стать агентом» вверху страницы.',
  'agents.tableLabel': 'Подключённые агенты',
  'agents.col.name': 'Имя',
  'agents.col.kind': 'Тип',
  'agents.col.status': 'Статус',
  'agents.col.concurrency': 'Слоты',
  'agents.col.running': 'В работе',
  'agents.col.completed': 'Выполнено',
  'agents.col.lastSeen': 'Был в сети',
  'agents.thisTab': 'эта вкладка',
  'agents.expires': 'исчезнет {time}',
  'agents.throughput': 'Производительность за 60 с',
  'agents.opsPerSecond': '{n} опер./с',
  'agents.peak': 'пик {n}',
  'agents.queue': 'в очереди {n}',
  'agents.runningTotal': 'в работе {n}',
  'agents.total': 'Всего',

  'agentStatus.active': 'Активен',
  'agentStatus.draining': 'Завершает',
  'agentStatus.lost': 'Потерян',
  'agentStatus.quarantined': 'Карантин',
  'agentKind.node': 'Node',
  'agentKind.browser': 'Браузер',
  'agentKind.http': 'HTTP',

  'settings.title': 'Настройки',
  'settings.lead':
    'Сколько длится каждая операция на агенте — модель дорогой работы. Изменения сразу доходят до всех агентов и действуют для задач, выданных после этого.',
  'settings.durations': 'Время операций',
  'settings.agents': 'Агенты',
  'settings.additionMs': 'Сложение (+)',
  'settings.subtractionMs': 'Вычитание (−)',
  'settings.multiplicationMs': 'Умножение (×)',
  'settings.divisionMs': 'Деление (÷)',
  'settings.lostAgentRetentionMs': 'Сколько показывать потерянных агентов',
  'settings.ms': 'мс',
  'settings.save': 'Сохранить',
  'settings.saving': 'Сохранение…',
  'settings.saved': 'Настройки сохранены.',
  'settings.revert': 'Вернуть',
  'settings.invalidInt': 'Введите целое число миллисекунд.',
  'settings.range': 'Допустимо от {min} до {max}.',
  'settings.changedElsewhere':
    'Изменено в другом месте на {value} мс — при сохранении останется ваше.',
  'settings.loading': 'Загрузка настроек…',
  'settings.fixErrors': 'Сначала исправьте отмеченные поля.',
  'settings.nothingToSave': 'Ничего не изменилось.',
  'settings.equals': '= {duration}',

  'error.generic': 'Что-то пошло не так: {message}',
  'error.network': 'Оркестратор недоступен.',
  'error.pageTitle': 'Страница не найдена',
  'error.pageText': 'По этому адресу ничего нет.',
  'error.backHome': 'К выражениям',

  'unit.ms': 'мс',
  'unit.s': 'с',
  'unit.min': 'мин',
  'unit.h': 'ч',

  'common.dismiss': 'Скрыть',
};

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];

export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', ru: 'Русский' };

const tables: Record<Locale, Record<MessageKey, string>> = { en, ru };

/** Values substituted into `{name}` placeholders. */
export type MessageParams = Record<string, string | number>;

/** Looks up `key` in `locale` and fills its placeholders; unknown placeholders stay visible. */
export function translate(locale: Locale, key: MessageKey, params?: MessageParams): string {
  const template = tables[locale][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Narrows an arbitrary string (localStorage, navigator.language) to a supported locale. */
export function toLocale(value: string | null | undefined): Locale | null {
  if (!value) return null;
  const base = value.toLowerCase().split('-')[0];
  return LOCALES.find((l) => l === base) ?? null;
}
